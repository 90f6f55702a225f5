"""The back office's reads: quote requests, accounts, the audit log, reports and export
links. (Its changes: resolvers/mutations.py.)"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote as urlquote

import strawberry

from graph.arguments import (
    AccountId,
    AccountSearch,
    ExportKindFilter,
    ExportStatusFilter,
    QuoteStatusFilter,
    since,
    until,
)
from graph.connections import Connection, Paging
from graph.context import Info
from graph.enums import (
    ExportDataset,
    ExportFormat,
)
from graph.types import (
    Account,
    AuditEvent,
    CourseUsage,
    ExpiringMonth,
    ExportLink,
    LearnerUsage,
    QuoteRequest,
    UsageMonth,
    UsageReport,
)
from ledger import audit, quotes, reports, support
from ledger.exports import ExportRequest, sign_link
from resolvers.common import list_page, parse_id, run_query
from settings import get_settings


async def quote_requests(
    info: Info,
    account_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(
            description="Only this account's requests (an `Account.id`). Left out: support "
            "staff see every account's, owners their own."
        ),
    ] = None,
    status: QuoteStatusFilter = None,
    *,
    paging: Paging,
) -> Connection[QuoteRequest]:
    return await list_page(
        info, QuoteRequest, quotes.list_quotes, paging, account_id=account_id, status=status
    )


async def accounts(
    info: Info, search: AccountSearch = None, *, paging: Paging
) -> Connection[Account]:
    return await list_page(info, Account, support.list_accounts, paging, search=search)


async def audit_log(
    info: Info, account_id: AccountId = None, *, paging: Paging
) -> Connection[AuditEvent]:
    return await list_page(info, AuditEvent, audit.list_events, paging, account_id=account_id)


async def usage_report(
    info: Info,
    account_id: AccountId = None,
    from_: Annotated[
        date | None,
        strawberry.argument(
            name="from",
            description="The period's first day (UTC, included); left out, the first day of "
            "the month a year before `to`'s. The period spans at most 36 calendar months.",
        ),
    ] = None,
    to: Annotated[
        date | None,
        strawberry.argument(
            description="The period's last day (UTC, included); left out, today (UTC)."
        ),
    ] = None,
) -> UsageReport:
    report = await run_query(
        info,
        lambda actor: reports.usage_report(
            actor=actor,
            account_id=parse_id(account_id, "accountId", "Account"),
            start=from_,
            end=to,
        ),
    )
    return UsageReport(
        start=report.start,
        end=report.end,
        months=[UsageMonth(**vars(m)) for m in report.months],
        top_learners=[
            LearnerUsage(credits=r.credits, redemptions=r.redemptions, learner_id=r.id)
            for r in report.top_learners
        ],
        top_courses=[
            CourseUsage(credits=r.credits, redemptions=r.redemptions, course_id=r.id)
            for r in report.top_courses
        ],
        expiring_by_month=[ExpiringMonth(month=m, credits=c) for m, c in report.expiring_by_month],
    )


async def export_link(
    info: Info,
    dataset: Annotated[ExportDataset, strawberry.argument(description="What to export.")],
    format: Annotated[ExportFormat, strawberry.argument(description="The file format.")],
    account_id: AccountId = None,
    from_: Annotated[date | None, since("transactions recorded, or requests made,")] = None,
    to: Annotated[date | None, until("transactions recorded, or requests made,")] = None,
    kind: ExportKindFilter = None,
    status: ExportStatusFilter = None,
) -> ExportLink:
    """A short-lived link a browser can download the export from, without a header."""
    token, expires = await run_query(
        info,
        lambda actor: sign_link(
            actor,
            ExportRequest(
                dataset=dataset,
                format=format,
                account_id=parse_id(account_id, "accountId", "Account"),
                start=from_,
                end=to,
                kind=kind,
                status=status,
            ),
        ),
    )
    base = get_settings().public_url.rstrip("/")
    url = f"{base}/exports/{dataset.value}.{format.value}?token={urlquote(token)}"
    return ExportLink(url=url, expires_at=expires)
