"""Links into the owner portal (`PORTAL_URL`; the API's own address is `PUBLIC_URL`)."""

from __future__ import annotations

from urllib.parse import urlencode

from settings import Settings


def portal(settings: Settings, path: str = "", **query: str) -> str:
    url = f"{settings.portal_url.rstrip('/')}{path}"
    return f"{url}?{urlencode(query)}" if query else url


def redemptions(settings: Settings, status: str) -> str:
    return portal(settings, "/redemptions", status=status)


def lots(settings: Settings) -> str:
    return portal(settings, "/lots")
