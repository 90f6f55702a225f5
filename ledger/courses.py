"""The course catalogue, managed by support staff and keyed by SKU."""

from __future__ import annotations

import re

from ledger import access, audit, clock, reads
from ledger.actors import Actor
from ledger.audit import AuditAction
from ledger.db import atomic
from ledger.errors import InvalidInput, NotFound
from ledger.pages import Page, PageRequest
from ledger.reads import Row, Where, model_pages
from ledger.text import clean_text
from models import MAX_CREDITS_PER_PURCHASE, Course, limits

SKU_RE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{limits.COURSE_SKU - 1}}}$")


async def upsert_course(
    *, actor: Actor, sku: str, title: str, price_credits: int, active: bool | None = None
) -> Course:
    access.require_support(actor)
    sku, title = _check_course(sku, title, price_credits)

    async def upsert() -> Course:
        now = clock.now()
        course = await Course.select_for_update().get_or_none(sku=sku)
        if course is None:
            course = await Course.create(
                sku=sku,
                title=title,
                price_credits=price_credits,
                active=True if active is None else active,
                created_at=now,
                updated_at=now,
            )
        else:
            course.title, course.price_credits, course.updated_at = title, price_credits, now
            if active is not None:
                course.active = active
            await course.save()
        await audit.record(
            AuditAction.COURSE_UPSERTED,
            actor,
            account_id=None,
            sku=sku,
            title=title,
            price_credits=price_credits,
            active=course.active,
        )
        return course

    return await atomic(upsert)


def _check_course(sku: str, title: str, price_credits: int) -> tuple[str, str]:
    """The SKU and title, trimmed, if they and the price are valid."""
    sku = sku.strip()
    if not SKU_RE.match(sku):
        raise InvalidInput(
            f"sku: letters, digits, '.', '_' or '-', up to {limits.COURSE_SKU}", field=["sku"]
        )
    title = clean_text(title, "title", min_length=1, max_length=limits.COURSE_TITLE)
    if not 1 <= price_credits <= MAX_CREDITS_PER_PURCHASE:
        raise InvalidInput("priceCredits must be a positive number", field=["priceCredits"])
    return sku, title


async def set_course_active(*, actor: Actor, course_id: int, active: bool) -> Course:
    access.require_support(actor)
    course = await Course.get_or_none(id=course_id)
    if course is None:
        raise NotFound("no such course", field=["id"])
    course.active, course.updated_at = active, clock.now()
    await course.save(update_fields=["active", "updated_at"])
    await audit.record(
        AuditAction.COURSE_ACTIVE_SET, actor, account_id=None, sku=course.sku, active=active
    )
    return course


async def course_rows(
    *, actor: Actor, include_inactive: bool, page: PageRequest, count: bool = True
) -> Page[Row]:
    """The catalogue, newest first: active courses, and withdrawn ones too for support
    staff who ask."""
    where = Where([], [])
    if not (include_inactive and access.sees_inactive_courses(actor)):
        where.add("t.active = %s", True)
    return await reads.page_of(Course, where, page, count=count)


list_courses = model_pages(Course, course_rows)
