"""Outgoing webhooks: an account's endpoints and their deliveries (decision 31)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.arguments import AccountId
from graph.connections import Connection, Paging
from graph.context import Info
from graph.ids import from_global_id
from graph.webhooks import (
    CreateWebhookEndpointInput,
    CreateWebhookEndpointPayload,
    DeleteWebhookEndpointInput,
    DeleteWebhookEndpointPayload,
    PingWebhookEndpointInput,
    PingWebhookEndpointPayload,
    RedeliverWebhookInput,
    RedeliverWebhookPayload,
    UpdateWebhookEndpointInput,
    UpdateWebhookEndpointPayload,
    WebhookDelivery,
    WebhookEndpoint,
)
from ledger import webhooks
from ledger.errors import LedgerError
from resolvers.common import Change, actor_of, list_page, user_errors

CREATE = Change(CreateWebhookEndpointPayload, webhooks.create_endpoint)
UPDATE = Change(UpdateWebhookEndpointPayload, webhooks.update_endpoint, "endpoint_id")
DELETE = Change(DeleteWebhookEndpointPayload, webhooks.delete_endpoint, "endpoint_id")
REDELIVER = Change(RedeliverWebhookPayload, webhooks.redeliver)


async def webhook_endpoints(
    info: Info, account_id: AccountId = None, *, paging: Paging
) -> Connection[WebhookEndpoint]:
    return await list_page(
        info, WebhookEndpoint, webhooks.list_endpoints, paging, account_id=account_id
    )


async def webhook_deliveries(
    info: Info,
    endpoint_id: Annotated[
        strawberry.ID, strawberry.argument(description="The `WebhookEndpoint.id`.")
    ],
    *,
    paging: Paging,
) -> Connection[WebhookDelivery]:
    return await list_page(
        info, WebhookDelivery, webhooks.list_deliveries, paging, endpoint_id=endpoint_id
    )


async def create_webhook_endpoint(
    info: Info,
    input: Annotated[
        CreateWebhookEndpointInput,
        strawberry.argument(description="The account, the URL and the events to send it."),
    ],
) -> CreateWebhookEndpointPayload:
    return await CREATE.run(info, input)


async def update_webhook_endpoint(
    info: Info,
    input: Annotated[
        UpdateWebhookEndpointInput,
        strawberry.argument(description="The endpoint and what to change."),
    ],
) -> UpdateWebhookEndpointPayload:
    return await UPDATE.run(info, input)


async def delete_webhook_endpoint(
    info: Info,
    input: Annotated[
        DeleteWebhookEndpointInput, strawberry.argument(description="The endpoint to delete.")
    ],
) -> DeleteWebhookEndpointPayload:
    return await DELETE.run(info, input)


async def redeliver_webhook(
    info: Info,
    input: Annotated[
        RedeliverWebhookInput, strawberry.argument(description="The delivery to send again.")
    ],
) -> RedeliverWebhookPayload:
    return await REDELIVER.run(info, input)


async def ping_webhook_endpoint(
    info: Info,
    input: Annotated[
        PingWebhookEndpointInput, strawberry.argument(description="The endpoint to ping.")
    ],
) -> PingWebhookEndpointPayload:
    # The input's `id` is an endpoint's while the payload answers a delivery, so `Change`
    # (which reads `id` as the payload's type) does not fit.
    actor = await actor_of(info)
    try:
        endpoint_id = from_global_id(input.id, "id", "WebhookEndpoint")
        row = await webhooks.ping_endpoint(actor=actor, endpoint_id=endpoint_id)
    except LedgerError as exc:
        return PingWebhookEndpointPayload.refused(user_errors(exc))
    return PingWebhookEndpointPayload.made(row)
