"""Jinja2 rendering: `<name>.txt` (with a `subject` block) and `<name>.html` per email.

HTML is autoescaped; text is not (it is never interpreted as markup). Undefined
variables are errors, so a template that names a missing value fails its test.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications import formatting
from notifications.emails import Email

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        usd=formatting.usd,
        number=formatting.number,
        credits=formatting.credits,
        date=formatting.date,
        datetime=formatting.date_time,
        name=formatting.display_name,
    )
    return env


def render_subject(name: str, context: dict[str, Any]) -> str:
    template = environment().get_template(f"{name}.txt")
    block = template.blocks["subject"]
    return formatting.one_line("".join(block(template.new_context(context))))


def render_email(
    name: str,
    *,
    kind: str,
    to: str,
    to_name: str = "",
    reply_to: str | None = None,
    **context: Any,
) -> Email:
    """Render template pair `name` for one recipient."""
    env = environment()
    context = {"recipient_name": to_name or to, **context}
    subject = render_subject(name, context)
    context["subject"] = subject
    return Email(
        to=to,
        subject=subject,
        text=env.get_template(f"{name}.txt").render(context),
        html=env.get_template(f"{name}.html").render(context),
        kind=kind,
        to_name=formatting.one_line(to_name),
        reply_to=reply_to,
    )
