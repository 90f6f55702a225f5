"""Quotes and invoices, support tools, the audit log, reports and export links."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote as urlquote

import strawberry

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


async def request_quote(info: Info, input: RequestQuoteInput) -> RequestQuotePayload:
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


async def fulfil_quote(info: Info, input: FulfilQuoteInput) -> FulfilQuotePayload:
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


async def cancel_quote(info: Info, input: CancelQuoteInput) -> CancelQuotePayload:
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


async def extend_lot(info: Info, input: ExtendLotInput) -> ExtendLotPayload:
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


async def reverse_redemption(info: Info, input: ReverseRedemptionInput) -> ReverseRedemptionPayload:
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


async def adjust_credits(info: Info, input: AdjustCreditsInput) -> AdjustCreditsPayload:
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
    account_id: strawberry.ID | None = None,
    status: QuoteStatus | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
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
    search: str | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
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
    account_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
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
    account_id: strawberry.ID | None = None,
    from_: Annotated[date | None, strawberry.argument(name="from")] = None,
    to: date | None = None,
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
    dataset: ExportDataset,
    format: ExportFormat,
    account_id: strawberry.ID | None = None,
    from_: Annotated[date | None, strawberry.argument(name="from")] = None,
    to: date | None = None,
    kind: TransactionKind | None = None,
    status: RedemptionStatus | None = None,
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
