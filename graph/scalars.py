"""Strawberry's Date and DateTime scalars, unchanged but for descriptions that say which
time zone the service uses (`StrawberryConfig.scalar_map`)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

SCALARS: dict[object, ScalarDefinition] = {
    date: dataclasses.replace(
        DateDefinition,
        description="A calendar day, ISO 8601 (`2026-03-01`). Date arguments name UTC days, "
        "from 2000-01-01 to 2199-12-31.",
    ),
    datetime: dataclasses.replace(
        DateTimeDefinition,
        description="An instant, ISO 8601 with its UTC offset. Answers are in UTC "
        "(`2026-03-01T09:00:00+00:00`); inputs must carry an offset.",
    ),
}
