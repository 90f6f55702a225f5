"""The root types and the executable schema. Fields point at thin resolvers."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graph.connections import Connection
from graph.payloads import (
    AccountPayload,
    CoursePayload,
    LotPayload,
    PurchasePayload,
    QuoteRequestPayload,
    RedemptionPayload,
    RedemptionsPayload,
)
from graph.types import Account as AccountType
from graph.types import (
    AuditEvent,
    Balance,
    Course,
    ExportLink,
    Lot,
    Node,
    PriceQuote,
    QuoteRequest,
    Redemption,
    Transaction,
    UsageReport,
    Viewer,
)
from observability import OperationMetrics, current_request_id
from resolvers import accounts, credits, nodes
from resolvers import backoffice as office
from resolvers import courses as catalogue
from resolvers import redemptions as redeeming
from schema.limits import limits_rule
from settings import Settings, get_settings

log = logging.getLogger("credits.graphql")


@strawberry.type
class Query:
    node: Node | None = strawberry.field(resolver=nodes.node)
    nodes: list[Node | None] = strawberry.field(resolver=nodes.nodes)
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
    original = error.original_error
    return (
        original is None
        or isinstance(original, GraphQLError)
        or bool(error.extensions and "code" in error.extensions)
    )


class MaskUnexpected(MaskErrors):
    """Unexpected failures answer INTERNAL with the request id; the log has the rest."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda e: not _is_expected(e))

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = current_request_id()
        log.error(
            "unexpected error in %s (request %s)",
            error.path,
            request_id,
            exc_info=error.original_error,
        )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL", "requestId": request_id}
        return masked


class CreditsSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Masked errors were logged with their request id; the rest are answers, not faults.
        return None


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with its limits; production also hides introspection and suggestions."""
    settings = settings or get_settings()
    # Built once: ValidationCache keys on the rule classes, so new classes per request
    # (what the limiter extensions make) would never hit the cache.
    rules: list[type[ASTValidationRule]] = [
        limits_rule(max_depth=settings.max_query_depth, max_aliases=settings.max_aliases),
    ]
    extensions: list[Any] = [
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ValidationCache(maxsize=512),
        MaskUnexpected,
        OperationMetrics,
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    return CreditsSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.is_production),
    )
