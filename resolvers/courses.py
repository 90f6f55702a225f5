"""The course catalogue. (Changing it: resolvers/mutations.py.)"""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.connections import Connection, Paging
from graph.context import Info
from graph.types import Course
from ledger import courses
from resolvers.common import list_page


async def list_courses(
    info: Info,
    paging: Paging,
    include_inactive: Annotated[
        bool,
        strawberry.argument(
            description="Support staff: also list withdrawn courses. Ignored for anyone else."
        ),
    ] = False,
) -> Connection[Course]:
    return await list_page(
        info, Course, courses.list_courses, paging, include_inactive=include_inactive
    )
