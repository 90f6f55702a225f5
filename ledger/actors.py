"""Who is asking: a signed-in user, and whether they are support staff."""

from __future__ import annotations

from dataclasses import dataclass

from models import User


@dataclass(frozen=True)
class Actor:
    user: User
    is_support: bool = False

    @property
    def user_id(self) -> int:
        return int(self.user.id)
