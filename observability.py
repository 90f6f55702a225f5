"""Request ids, structured JSON logs and Prometheus metrics.

Every request gets an id (the caller's `X-Request-ID` when it is sane, else a new one),
echoed in the response, attached to every log line written while it runs, and put on
masked GraphQL errors so that a user's report can be matched to the log. Access log lines
hide query-string values (export links carry a signed token), and a client that goes
away mid-request is one info line, not a traceback.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

log = logging.getLogger("credits.http")
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

HTTP_REQUESTS = Counter(
    "credits_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "credits_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GRAPHQL_OPERATIONS = Counter(
    "credits_graphql_operations_total", "GraphQL operations", ["operation", "type", "outcome"]
)
# Set from the database at each scrape: with several server processes, the latest wins.
OUTBOX_BACKLOG = Gauge(
    "credits_outbox_backlog",
    "Outbox rows on their way (not delivered, not failed)",
    multiprocess_mode="mostrecent",
)
OUTBOX_FAILED = Gauge(
    "credits_outbox_failed",
    "Outbox rows whose delivery gave up; `credits outbox --retry` sends them again",
    multiprocess_mode="mostrecent",
)
# Which executor answered each GraphQL request: "compiled" (graph plans, decision 27)
# or "reference" (Strawberry and graphql-core).
GRAPHQL_EXECUTIONS = Counter(
    "credits_graphql_executions_total", "GraphQL requests by executor", ["executor"]
)
JOBS = Counter("credits_jobs_total", "Scheduled job runs", ["job", "outcome"])
# Subscriptions (live/): open WebSocket connections and running subscriptions, summed
# over the server processes that are alive.
LIVE_CONNECTIONS = Gauge(
    "credits_live_connections", "Signed-in WebSocket connections", multiprocess_mode="livesum"
)
LIVE_SUBSCRIPTIONS = Gauge(
    "credits_live_subscriptions", "Subscriptions listening for events", multiprocess_mode="livesum"
)


def current_request_id() -> str:
    """The id of the request being served ("" outside one): structlog's context, which
    also puts it on every log line written meanwhile."""
    return str(structlog.contextvars.get_contextvars().get("request_id", ""))


def _route(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    if path.startswith("/exports/"):
        return "/exports"
    return path if path in ("/graphql", "/healthz", "/readyz", "/metrics") else "other"


class RequestContext:
    """ASGI middleware: request id, and the request count and latency metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        started, status, path = time.perf_counter(), 500, str(scope.get("path", ""))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away (a body cut short): nobody to answer, nothing broken.
            status = 499
            log.info("client disconnected before the response: %s %s", scope["method"], path)
        finally:
            route = _route(scope)
            _series(HTTP_REQUESTS, scope.get("method", ""), route, str(status)).inc()
            _series(HTTP_LATENCY, route).observe(time.perf_counter() - started)
            structlog.contextvars.reset_contextvars(**tokens)


@functools.cache  # a few dozen combinations: the labels() lookup costs more than the count
def _series(metric: Any, *labels: str) -> Any:
    return metric.labels(*labels)


class OperationMetrics(SchemaExtension):
    """Counts GraphQL operations by name, type and outcome."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        result = context.result
        errors = getattr(result, "errors", None)
        operation = context.operation_name or "anonymous"
        kind = context.operation_type.value if context.operation_type else "unknown"
        GRAPHQL_OPERATIONS.labels(operation[:64], kind, "error" if errors else "ok").inc()


async def metrics(request: Request) -> Response:
    from models import OutboxMessage

    try:
        undelivered = OutboxMessage.filter(delivered_at__isnull=True)
        OUTBOX_BACKLOG.set(await undelivered.filter(failed_at__isnull=True).count())
        OUTBOX_FAILED.set(await undelivered.filter(failed_at__isnull=False).count())
    except Exception:  # metrics must answer even when the database does not
        logging.getLogger("credits.metrics").warning("outbox backlog unavailable")
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    """This process's metrics, or with PROMETHEUS_MULTIPROC_DIR set (`credits serve
    --workers N` sets it) those of every server process, summed."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def prepare_multiprocess_metrics(directory: str | None = None) -> str:
    """Before starting several server processes: an empty directory where each writes its
    metrics (PROMETHEUS_MULTIPROC_DIR, inherited by the processes). Answers its path."""
    path = directory or os.environ.get(MULTIPROCESS_DIR) or tempfile.mkdtemp(prefix="credits-")
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):  # a previous run's counters
        os.remove(stale)
    os.environ[MULTIPROCESS_DIR] = path
    return path


def redact_query(path: str) -> str:
    """`path` with every query parameter's value hidden: export links carry a token."""
    path, mark, query = path.partition("?")
    if not mark:
        return path
    names = (part.partition("=")[0] for part in query.split("&") if part)
    return f"{path}?" + "&".join(f"{name}=***" for name in names)


class RedactQueryStrings(logging.Filter):
    """For uvicorn's access log, whose arguments include the path with its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(arg) if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


def _json_line(event: Any, **options: Any) -> str:
    """A log event as one JSON line (orjson: every request writes an access line)."""
    return orjson.dumps(event, default=repr).decode()


def configure_logging(*, json_logs: bool, level: str = "INFO") -> None:
    """Route the standard library's logging through structlog, as JSON in production."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if json_logs
        else structlog.dev.ConsoleRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)  # stdout is for command output (tokens)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQueryStrings) for f in access.filters):
        access.addFilter(RedactQueryStrings())
