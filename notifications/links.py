"""Links into the owner portal (`PUBLIC_URL`)."""

from __future__ import annotations

from urllib.parse import urlencode

from settings import Settings

PORTAL_ROOT = "/training-credits"


def portal(settings: Settings, path: str = "", **query: str) -> str:
    url = f"{settings.public_url.rstrip('/')}{PORTAL_ROOT}{path}"
    return f"{url}?{urlencode(query)}" if query else url


def redemptions(settings: Settings, status: str) -> str:
    return portal(settings, "/redemptions", status=status)


def lots(settings: Settings) -> str:
    return portal(settings, "/lots")
