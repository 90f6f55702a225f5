"""The root types and the executable schema. Fields point at thin resolvers."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.types import ExecutionContext

from resolvers import accounts, credits
from resolvers import backoffice as office
from resolvers import courses as catalogue
from resolvers import redemptions as redeeming
from schema.connections import Connection
from schema.payloads import (
    AccountPayload,
    CoursePayload,
    LotPayload,
    PurchasePayload,
    QuoteRequestPayload,
    RedemptionPayload,
    RedemptionsPayload,
)
from schema.types import Account as AccountType
from schema.types import (
    AuditEvent,
    Balance,
    Course,
    ExportLink,
    Lot,
    PriceQuote,
    QuoteRequest,
    Redemption,
    Transaction,
    UsageReport,
    Viewer,
)


@strawberry.type
class Query:
    viewer: Viewer = strawberry.field(resolver=accounts.viewer)
    account: AccountType | None = strawberry.field(resolver=accounts.account)
    balance: Balance = strawberry.field(resolver=credits.balance)
    lots: Connection[Lot] = strawberry.field(resolver=credits.lots)
    transactions: Connection[Transaction] = strawberry.field(resolver=credits.transactions)
    price_quote: PriceQuote = strawberry.field(resolver=credits.price_quote)
    redemptions: Connection[Redemption] = strawberry.field(resolver=redeeming.list_redemptions)
    my_redemptions: Connection[Redemption] = strawberry.field(resolver=redeeming.my_redemptions)
    courses: Connection[Course] = strawberry.field(resolver=catalogue.list_courses)
    quote_requests: Connection[QuoteRequest] = strawberry.field(resolver=office.quote_requests)
    accounts: Connection[AccountType] = strawberry.field(resolver=office.accounts)
    audit_log: Connection[AuditEvent] = strawberry.field(resolver=office.audit_log)
    usage_report: UsageReport = strawberry.field(resolver=office.usage_report)
    export_link: ExportLink = strawberry.field(resolver=office.export_link)


@strawberry.type
class Mutation:
    create_account: AccountPayload = strawberry.mutation(resolver=accounts.create_account)
    update_account: AccountPayload = strawberry.mutation(resolver=accounts.update_account)
    add_account_owner: AccountPayload = strawberry.mutation(resolver=accounts.add_account_owner)
    remove_account_owner: AccountPayload = strawberry.mutation(
        resolver=accounts.remove_account_owner
    )
    rotate_redemption_code: AccountPayload = strawberry.mutation(
        resolver=accounts.rotate_redemption_code
    )
    purchase_credits: PurchasePayload = strawberry.mutation(resolver=credits.purchase_credits)
    redeem_credits: RedemptionPayload = strawberry.mutation(resolver=redeeming.redeem_credits)
    approve_redemptions: RedemptionsPayload = strawberry.mutation(
        resolver=redeeming.approve_redemptions
    )
    deny_redemptions: RedemptionsPayload = strawberry.mutation(resolver=redeeming.deny_redemptions)
    cancel_redemption: RedemptionPayload = strawberry.mutation(resolver=redeeming.cancel_redemption)
    upsert_course: CoursePayload = strawberry.mutation(resolver=catalogue.upsert_course)
    deactivate_course: CoursePayload = strawberry.mutation(resolver=catalogue.deactivate_course)
    request_quote: QuoteRequestPayload = strawberry.mutation(resolver=office.request_quote)
    cancel_quote: QuoteRequestPayload = strawberry.mutation(resolver=office.cancel_quote)
    fulfil_quote: QuoteRequestPayload = strawberry.mutation(resolver=office.fulfil_quote)
    extend_lot: LotPayload = strawberry.mutation(resolver=office.extend_lot)
    reverse_redemption: RedemptionPayload = strawberry.mutation(resolver=office.reverse_redemption)
    adjust_credits: AccountPayload = strawberry.mutation(resolver=office.adjust_credits)


def _is_expected(error: GraphQLError) -> bool:
    """Errors we raised on purpose carry a code; anything else is masked."""
    return (
        error.original_error is None
        or isinstance(error.original_error, GraphQLError)
        or bool(error.extensions and "code" in error.extensions)
    )


class MaskUnexpected(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda e: not _is_expected(e))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked


class CreditsSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors we raised on purpose (auth, validation, typed codes) are answers, not faults.
        unexpected = [e for e in errors if not _is_expected(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema(extra_extensions: list[type[SchemaExtension]] | None = None) -> strawberry.Schema:
    return CreditsSchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            MaskUnexpected,
            *(extra_extensions or []),
        ],
    )


schema = build_schema()
