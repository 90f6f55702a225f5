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

from graph.connections import Connection, connection
from graph.scalars import SCALARS
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
from graph.webhooks import WebhookDelivery, WebhookEndpoint
from observability import OperationMetrics, current_request_id
from resolvers import accounts, credits, mutations, nodes, webhooks
from resolvers import backoffice as office
from resolvers import courses as catalogue
from resolvers import redemptions as redeeming
from resolvers import subscriptions as live
from schema.limits import limits_rule
from settings import Settings, get_settings

log = logging.getLogger("credits.graphql")


OWNERS_AND_SUPPORT = "Owners: their own account (the default). Support staff: any account."


@strawberry.type(
    description="Reads; each needs a valid bearer token (UNAUTHENTICATED otherwise). Every "
    "field but `viewer` is nullable: a field that fails (the caller owns no account yet, a "
    "stranger's id, a missing role) answers null with its error in `errors`, and the other "
    "fields still answer."
)
class Query:
    """Reads. Every field but `viewer` is nullable: one that fails (no account yet, a
    stranger's id, a missing role) answers null with its error in `errors`, and the
    others still answer (decision 26)."""

    node: Node | None = strawberry.field(
        resolver=nodes.node,
        description="Any object by its global id, under the same access rules as the lists "
        "that show it: null when it does not exist or the caller may not see it. Anyone "
        "signed in.",
    )
    nodes: list[Node | None] = strawberry.field(
        resolver=nodes.nodes,
        description="Several objects by global id, in the order asked: null for each one "
        "that does not exist or the caller may not see. Anyone signed in.",
    )
    viewer: Viewer = strawberry.field(
        resolver=accounts.viewer,
        description="The caller: who they are, the account they own, whether they are "
        "support staff. Anyone signed in; the only field never null.",
    )
    account: AccountType | None = strawberry.field(
        resolver=accounts.account,
        description=f"An account. {OWNERS_AND_SUPPORT}",
    )
    balance: Balance | None = strawberry.field(
        resolver=credits.balance,
        description=f"An account's credits now. {OWNERS_AND_SUPPORT}",
    )
    lots: Connection[Lot] | None = connection(
        resolver=credits.lots,
        description=f"An account's lots, newest first. {OWNERS_AND_SUPPORT}",
    )
    transactions: Connection[Transaction] | None = connection(
        resolver=credits.transactions,
        description="An account's ledger, newest first: every change of credits. "
        f"{OWNERS_AND_SUPPORT}",
    )
    price_quote: PriceQuote | None = strawberry.field(
        resolver=credits.price_quote,
        description="What buying a number of credits would cost now, with any volume "
        "discount or promo code; nothing is bought. Anyone signed in.",
    )
    redemptions: Connection[Redemption] | None = connection(
        resolver=redeeming.list_redemptions,
        description=f"An account's redemption requests, newest first. {OWNERS_AND_SUPPORT}",
    )
    my_redemptions: Connection[Redemption] | None = connection(
        resolver=redeeming.my_redemptions,
        description="The caller's own redemption requests as a learner, from any account, "
        "newest first. Anyone signed in.",
    )
    courses: Connection[Course] | None = connection(
        resolver=catalogue.list_courses,
        description="The course catalogue, newest first: the courses learners can redeem "
        "(support staff may include withdrawn ones). Anyone signed in.",
    )
    quote_requests: Connection[QuoteRequest] | None = connection(
        resolver=office.quote_requests,
        description="Requests to buy by invoice, newest first. Owners see their account's; "
        "support staff see every account's.",
    )
    accounts: Connection[AccountType] | None = connection(
        resolver=office.accounts,
        description="Every account, newest first. Support staff only (FORBIDDEN otherwise).",
    )
    audit_log: Connection[AuditEvent] | None = connection(
        resolver=office.audit_log,
        description=f"Who changed what on an account, newest first. {OWNERS_AND_SUPPORT}",
    )
    usage_report: UsageReport | None = strawberry.field(
        resolver=office.usage_report,
        description="An account's usage over a period: credits in and out per month, top "
        f"learners and courses, credits expiring by month. {OWNERS_AND_SUPPORT}",
    )
    export_link: ExportLink | None = strawberry.field(
        resolver=office.export_link,
        description="A link, valid for 10 minutes, to download an account's transactions "
        f"or redemptions as CSV or XLSX, filtered like their lists. {OWNERS_AND_SUPPORT}",
    )
    webhook_endpoints: Connection[WebhookEndpoint] | None = connection(
        resolver=webhooks.webhook_endpoints,
        description=f"An account's webhook endpoints, newest first. {OWNERS_AND_SUPPORT}",
    )
    webhook_deliveries: Connection[WebhookDelivery] | None = connection(
        resolver=webhooks.webhook_deliveries,
        description="What was sent to one webhook endpoint, newest first: each event's "
        f"status, attempts and last answer. {OWNERS_AND_SUPPORT}",
    )


def _errors(what: str, codes: str) -> str:
    return f"{what}\n\nPayload error codes: {codes}."


@strawberry.type(
    description=(
        "Every change: each takes one input and answers one payload whose `errors` list what was "
        "refused."
    )
)
class Mutation:
    create_account = strawberry.mutation(
        resolver=mutations.create_account,
        description=_errors(
            (
                "Create an account owned by the caller, with its redemption code. A user owns at "
                "most one account."
            ),
            "INVALID_INPUT, ALREADY_OWNS_ACCOUNT",
        ),
    )
    update_account = strawberry.mutation(
        resolver=mutations.update_account,
        description=_errors(
            (
                "Rename the account, change how requests are approved, or set the limit approved "
                "at once."
            ),
            "INVALID_INPUT, NOT_FOUND",
        ),
    )
    add_account_owner = strawberry.mutation(
        resolver=mutations.add_account_owner,
        description=_errors(
            (
                "Make someone an owner by email: listed, counted and emailed at once, linked when "
                "they first sign in with that verified email."
            ),
            "INVALID_INPUT, NOT_FOUND, ALREADY_OWNS_ACCOUNT",
        ),
    )
    remove_account_owner = strawberry.mutation(
        resolver=mutations.remove_account_owner,
        description=_errors(
            "Remove an owner (the creator included); the last owner cannot be removed.",
            "INVALID_INPUT, NOT_FOUND, LAST_OWNER",
        ),
    )
    rotate_redemption_code = strawberry.mutation(
        resolver=mutations.rotate_redemption_code,
        description=_errors(
            (
                "Replace the redemption code: the old one stops working at once; requests made "
                "with it stay valid; owners are emailed."
            ),
            "NOT_FOUND",
        ),
    )
    purchase_credits = strawberry.mutation(
        resolver=mutations.purchase_credits,
        description=_errors(
            (
                "Buy credits by card; they are added as a lot expiring a year after payment. "
                "Retried with the same idempotency key, it answers as the first time."
            ),
            "INVALID_INPUT, NOT_FOUND, INVALID_PROMO_CODE, PAYMENT_DECLINED, IDEMPOTENCY_CONFLICT",
        ),
    )
    redeem_credits = strawberry.mutation(
        resolver=mutations.redeem_credits,
        description=_errors(
            (
                "A learner pays for a course with the account's code: approved at once (AUTOMATIC,"
                " or MANUAL within the limit) when the balance covers it, else pending an owner's "
                "decision."
            ),
            (
                "INVALID_INPUT, INVALID_CODE, COURSE_UNAVAILABLE, INSUFFICIENT_CREDITS, "
                "IDEMPOTENCY_CONFLICT, RATE_LIMITED"
            ),
        ),
    )
    approve_redemptions = strawberry.mutation(
        resolver=redeeming.approve_redemptions,
        description=_errors(
            (
                "Approve pending requests, oldest first; credits are drawn from the "
                "soonest-expiring lots."
            ),
            "INVALID_INPUT, NOT_FOUND, NOT_PENDING, INSUFFICIENT_CREDITS (per id)",
        ),
    )
    deny_redemptions = strawberry.mutation(
        resolver=redeeming.deny_redemptions,
        description=_errors(
            "Deny pending requests; the learners are emailed the reason.",
            "INVALID_INPUT, NOT_FOUND, NOT_PENDING (per id)",
        ),
    )
    cancel_redemption = strawberry.mutation(
        resolver=mutations.cancel_redemption,
        description=_errors(
            "The learner withdraws their own pending request.",
            "INVALID_INPUT, NOT_FOUND, NOT_PENDING",
        ),
    )
    upsert_course = strawberry.mutation(
        resolver=mutations.upsert_course,
        description=_errors(
            "Support: add a course to the catalogue or change it, by SKU.",
            "INVALID_INPUT, FORBIDDEN",
        ),
    )
    deactivate_course = strawberry.mutation(
        resolver=mutations.deactivate_course,
        description=_errors(
            "Support: withdraw a course; learners can no longer redeem for it.",
            "INVALID_INPUT, NOT_FOUND, FORBIDDEN",
        ),
    )
    request_quote = strawberry.mutation(
        resolver=mutations.request_quote,
        description=_errors(
            "Ask support for an invoice quote; the support mailbox is emailed.",
            "INVALID_INPUT, NOT_FOUND, INVALID_PROMO_CODE",
        ),
    )
    cancel_quote = strawberry.mutation(
        resolver=mutations.cancel_quote,
        description=_errors(
            "Cancel an open quote request (its account's owners or support).",
            "INVALID_INPUT, NOT_FOUND, NOT_PENDING",
        ),
    )
    fulfil_quote = strawberry.mutation(
        resolver=mutations.fulfil_quote,
        description=_errors(
            "Support: mark a quote's invoice paid; its credits are added as a lot.",
            "INVALID_INPUT, NOT_FOUND, NOT_PENDING, FORBIDDEN",
        ),
    )
    extend_lot = strawberry.mutation(
        resolver=mutations.extend_lot,
        description=_errors(
            "Support: move a lot's expiry later, with a reason (an EXTENSION entry).",
            "INVALID_INPUT, NOT_FOUND, FORBIDDEN",
        ),
    )
    reverse_redemption = strawberry.mutation(
        resolver=mutations.reverse_redemption,
        description=_errors(
            (
                "Support: refund an approved redemption; credits go back to their lots, and a "
                "share whose lot has expired since is expired again."
            ),
            "INVALID_INPUT, NOT_FOUND, NOT_PENDING, FORBIDDEN",
        ),
    )
    adjust_credits = strawberry.mutation(
        resolver=mutations.adjust_credits,
        description=_errors(
            "Support: add credits (a new lot) or take some (in draw order), with a reason.",
            "INVALID_INPUT, NOT_FOUND, INSUFFICIENT_CREDITS, FORBIDDEN",
        ),
    )
    create_webhook_endpoint = strawberry.mutation(
        resolver=webhooks.create_webhook_endpoint,
        description=_errors(
            "Add a webhook endpoint to the account; the answer holds its signing secret, "
            "shown this once.",
            "INVALID_INPUT, NOT_FOUND",
        ),
    )
    update_webhook_endpoint = strawberry.mutation(
        resolver=webhooks.update_webhook_endpoint,
        description=_errors(
            "Change a webhook endpoint: its URL, events, description, threshold, or "
            "whether it is enabled.",
            "INVALID_INPUT, NOT_FOUND",
        ),
    )
    delete_webhook_endpoint = strawberry.mutation(
        resolver=webhooks.delete_webhook_endpoint,
        description=_errors(
            "Delete a webhook endpoint and its deliveries.", "INVALID_INPUT, NOT_FOUND"
        ),
    )
    ping_webhook_endpoint = strawberry.mutation(
        resolver=webhooks.ping_webhook_endpoint,
        description=_errors(
            "Send a webhook endpoint a `ping` event now, signed like every event.",
            "INVALID_INPUT, NOT_FOUND",
        ),
    )
    redeliver_webhook = strawberry.mutation(
        resolver=webhooks.redeliver_webhook,
        description=_errors(
            "Send a delivery's event again (same event id and body), due now, with a "
            "fresh 3-day retry window.",
            "INVALID_INPUT, NOT_FOUND",
        ),
    )


LIVE = (
    "Sent for committed changes only, a moment after they commit; each event is the object "
    "as it is when sent. Access is checked again before each event: a subscriber who may no "
    "longer see it gets an error (NOT_FOUND, or UNAUTHENTICATED once the token expired) and "
    "the subscription ends. Events missed while disconnected are not replayed: re-run the "
    "matching query, then subscribe again."
)


@strawberry.type(
    description="Live updates over WebSocket (`graphql-transport-ws`, at /graphql), signed "
    "in by the bearer token in `connection_init`'s payload: "
    '`{"authorization": "Bearer <JWT>"}`.'
)
class Subscription:
    redemption_requested = strawberry.subscription(
        resolver=live.redemption_requested,
        description="Each new request of the account waiting for a decision (PENDING). "
        f"{OWNERS_AND_SUPPORT} {LIVE}",
    )
    redemption_decided = strawberry.subscription(
        resolver=live.redemption_decided,
        description="Each request of the account approved (by an owner, or at once), "
        "denied, cancelled by its learner, or reversed by support. "
        f"{OWNERS_AND_SUPPORT} {LIVE}",
    )
    balance_changed = strawberry.subscription(
        resolver=live.balance_changed,
        description="The account's balance after each change of it: credits bought, "
        "requested, approved, denied, cancelled, reversed or expired by the nightly job; "
        "changes that commit together may come as one. Support adjustments send none. "
        f"{OWNERS_AND_SUPPORT} {LIVE}",
    )
    my_redemption_decided = strawberry.subscription(
        resolver=live.my_redemption_decided,
        description="Each of the caller's own requests, as a learner, approved, denied, "
        f"cancelled or reversed, on any account. Anyone signed in. {LIVE}",
    )


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


def validation_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The rules every document is checked with besides GraphQL's own: the limits."""
    return [limits_rule(max_depth=settings.max_query_depth, max_aliases=settings.max_aliases)]


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with its limits; production also hides introspection and suggestions."""
    settings = settings or get_settings()
    # Built once: ValidationCache keys on the rule classes, so new classes per request
    # (what the limiter extensions make) would never hit the cache.
    rules = validation_rules(settings)
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
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(
            disable_field_suggestions=settings.is_production, scalar_map=SCALARS
        ),
    )
