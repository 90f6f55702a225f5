"""The course catalogue."""

from __future__ import annotations

from graph.connections import Connection, decode_cursor
from graph.context import Info
from graph.inputs import CourseInput, CourseRefInput
from graph.payloads import CoursePayload
from graph.types import Course
from ledger import courses
from ledger.ids import require_id
from resolvers.common import mutate, query_page


async def list_courses(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    include_inactive: bool = False,
) -> Connection[Course]:
    return await query_page(
        info,
        Course.from_model,
        lambda actor: courses.list_courses(
            actor=actor,
            include_inactive=include_inactive,
            first=first,
            after=decode_cursor(after),
        ),
    )


async def upsert_course(info: Info, input: CourseInput) -> CoursePayload:
    return await mutate(
        info,
        CoursePayload,
        Course.from_model,
        lambda actor: courses.upsert_course(
            actor=actor,
            sku=input.sku,
            title=input.title,
            price_credits=input.price_credits,
            active=input.active,
        ),
    )


async def deactivate_course(info: Info, input: CourseRefInput) -> CoursePayload:
    return await mutate(
        info,
        CoursePayload,
        Course.from_model,
        lambda actor: courses.set_course_active(
            actor=actor, course_id=require_id(input.id, "id"), active=False
        ),
    )
