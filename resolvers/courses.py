"""The course catalogue."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.arguments import After, Before, First, Last
from graph.connections import Connection, page_request
from graph.context import Info
from graph.ids import from_global_id
from graph.inputs import DeactivateCourseInput, UpsertCourseInput
from graph.payloads import (
    DeactivateCoursePayload,
    UpsertCoursePayload,
)
from graph.types import Course
from ledger import courses
from resolvers.common import mutate, query_page


async def list_courses(
    info: Info,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
    include_inactive: Annotated[
        bool,
        strawberry.argument(
            description="Support staff: also list withdrawn courses. Ignored for anyone else."
        ),
    ] = False,
) -> Connection[Course]:
    return await query_page(
        info,
        Course.from_model,
        lambda actor: courses.list_courses(
            actor=actor,
            include_inactive=include_inactive,
            page=page_request(first, after, last, before),
        ),
    )


async def upsert_course(
    info: Info,
    input: Annotated[
        UpsertCourseInput,
        strawberry.argument(description="The course, keyed by its SKU."),
    ],
) -> UpsertCoursePayload:
    return await mutate(
        info,
        UpsertCoursePayload,
        Course.from_model,
        lambda actor: courses.upsert_course(
            actor=actor,
            sku=input.sku,
            title=input.title,
            price_credits=input.price_credits,
            active=input.active,
        ),
    )


async def deactivate_course(
    info: Info,
    input: Annotated[
        DeactivateCourseInput,
        strawberry.argument(description="The course to withdraw."),
    ],
) -> DeactivateCoursePayload:
    return await mutate(
        info,
        DeactivateCoursePayload,
        Course.from_model,
        lambda actor: courses.set_course_active(
            actor=actor, course_id=from_global_id(input.id, "id", "Course"), active=False
        ),
    )
