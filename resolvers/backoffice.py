"""Quotes and invoices, support tools, the audit log, reports and export links."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote as urlquote

import strawberry

from graph.arguments import AccountId, After, Before, First, Last, since, until
from graph.connections import Connection, page_request
from graph.context import Info
from graph.enums import (
    ExportDataset,
    ExportFormat,
    QuoteStatus,
    RedemptionStatus,
    TransactionKind,
)
from graph.ids import from_global_id
from graph.inputs import (
    AdjustCreditsInput,
    CancelQuoteInput,
    ExtendLotInput,
    FulfilQuoteInput,
    RequestQuoteInput,
    ReverseRedemptionInput,
)
from graph.payloads import (
    AdjustCreditsPayload,
    CancelQuotePayload,
    ExtendLotPayload,
    FulfilQuotePayload,
    RequestQuotePayload,
    ReverseRedemptionPayload,
)
from graph.types import (
    Account,
    AuditEvent,
    CourseUsage,
    ExpiringMonth,
    ExportLink,
    LearnerUsage,
    Lot,
    QuoteRequest,
    Redemption,
    UsageMonth,
    UsageReport,
)
from ledger import audit, quotes, reports, support
from ledger.exports import ExportRequest, sign_link
from resolvers.common import mutate, parse_id, query_page, run_query
from settings import get_settings


async def request_quote(
    info: Info,
    input: Annotated[
        RequestQuoteInput,
        strawberry.argument(description="The account, how many credits, and a note."),
    ],
) -> RequestQuotePayload:
    return await mutate(
        info,
        RequestQuotePayload,
        QuoteRequest.from_model,
        lambda actor: quotes.request_quote(
            actor=actor,
            account_id=parse_id(input.account_id, "accountId", "Account"),
            credits=input.credits,
            message=input.message,
            promo_code=input.promo_code,
        ),
    )


async def fulfil_quote(
    info: Info,
    input: Annotated[
        FulfilQuoteInput,
        strawberry.argument(description="The open quote request and the invoice number."),
    ],
) -> FulfilQuotePayload:
    return await mutate(
        info,
        FulfilQuotePayload,
        QuoteRequest.from_model,
        lambda actor: quotes.fulfil_quote(
            actor=actor,
            quote_id=from_global_id(input.id, "id", "QuoteRequest"),
            invoice_number=input.invoice_number,
        ),
    )


async def cancel_quote(
    info: Info,
    input: Annotated[
        CancelQuoteInput, strawberry.argument(description="The open quote request and why.")
    ],
) -> CancelQuotePayload:
    return await mutate(
        info,
        CancelQuotePayload,
        QuoteRequest.from_model,
        lambda actor: quotes.cancel_quote(
            actor=actor,
            quote_id=from_global_id(input.id, "id", "QuoteRequest"),
            reason=input.reason,
        ),
    )


async def extend_lot(
    info: Info,
    input: Annotated[
        ExtendLotInput, strawberry.argument(description="The lot, its new expiry and why.")
    ],
) -> ExtendLotPayload:
    return await mutate(
        info,
        ExtendLotPayload,
        Lot.from_model,
        lambda actor: support.extend_lot(
            actor=actor,
            lot_id=from_global_id(input.id, "id", "Lot"),
            expires_at=input.expires_at,
            reason=input.reason,
        ),
    )


async def reverse_redemption(
    info: Info,
    input: Annotated[
        ReverseRedemptionInput, strawberry.argument(description="The approved redemption and why.")
    ],
) -> ReverseRedemptionPayload:
    return await mutate(
        info,
        ReverseRedemptionPayload,
        Redemption.from_model,
        lambda actor: support.reverse_redemption(
            actor=actor,
            redemption_id=from_global_id(input.id, "id", "Redemption"),
            reason=input.reason,
        ),
    )


async def adjust_credits(
    info: Info,
    input: Annotated[
        AdjustCreditsInput,
        strawberry.argument(description="The account, the signed credits and why."),
    ],
) -> AdjustCreditsPayload:
    return await mutate(
        info,
        AdjustCreditsPayload,
        Account.from_model,
        lambda actor: support.adjust_credits(
            actor=actor,
            account_id=from_global_id(input.account_id, "accountId", "Account"),
            credits=input.credits,
            reason=input.reason,
        ),
    )


async def quote_requests(
    info: Info,
    account_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(
            description="Only this account's requests (an `Account.id`). Left out: support "
            "staff see every account's, owners their own."
        ),
    ] = None,
    status: Annotated[
        QuoteStatus | None,
        strawberry.argument(description="Only requests in this state; all when left out."),
    ] = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[QuoteRequest]:
    return await query_page(
        info,
        QuoteRequest.from_model,
        lambda actor: quotes.list_quotes(
            actor=actor,
            account_id=parse_id(account_id, "accountId", "Account"),
            status=status,
            page=page_request(first, after, last, before),
        ),
    )


async def accounts(
    info: Info,
    search: Annotated[
        str | None,
        strawberry.argument(
            description="Only accounts whose name or an owner's email contains this text, "
            "in any case (at most 200 characters); all when left out or blank."
        ),
    ] = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[Account]:
    return await query_page(
        info,
        Account.from_model,
        lambda actor: support.list_accounts(
            actor=actor,
            search=search,
            page=page_request(first, after, last, before),
        ),
    )


async def audit_log(
    info: Info,
    account_id: AccountId = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[AuditEvent]:
    return await query_page(
        info,
        AuditEvent.from_model,
        lambda actor: audit.list_events(
            actor=actor,
            account_id=parse_id(account_id, "accountId", "Account"),
            page=page_request(first, after, last, before),
        ),
    )


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
    from_: Annotated[
        date | None,
        strawberry.argument(
            name="from", description=since("transactions recorded, or requests made,")
        ),
    ] = None,
    to: Annotated[
        date | None,
        strawberry.argument(description=until("transactions recorded, or requests made,")),
    ] = None,
    kind: Annotated[
        TransactionKind | None,
        strawberry.argument(
            description="TRANSACTIONS only: only entries of this kind (ignored for REDEMPTIONS)."
        ),
    ] = None,
    status: Annotated[
        RedemptionStatus | None,
        strawberry.argument(
            description="REDEMPTIONS only: only requests in this state (ignored for TRANSACTIONS)."
        ),
    ] = None,
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
