"""Jinja2 rendering: `<name>.txt` (with a `subject` block) and `<name>.html` per email.

HTML is autoescaped; text is not (it is never interpreted as markup). Undefined
variables are errors, so a template that names a missing value fails its test.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape

from notifications import formatting
from notifications.emails import Email

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Stands for the recipient's name while a template is rendered once for many recipients;
# markup escaping leaves it as it is, and no template or value produces it.
NAME_SLOT = "\x1frecipient-name\x1f"


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


def render_for_each(
    name: str,
    recipients: list[tuple[str, str]],
    *,
    kind: str,
    reply_to: str | None = None,
    **context: Any,
) -> list[Email]:
    """Template pair `name` for each `(address, name)` in `recipients`, rendered once.

    Templates use the recipient only as `{{ recipient_name }}`, written as it is: the
    pair is rendered with a slot in its place, and each email is the rendering with the
    slot filled (escaped in HTML). The same as `render_email` per recipient, which a
    test checks for every template, at a fraction of the cost for many owners.
    """
    if not recipients:
        return []
    env = environment()
    context = {"recipient_name": NAME_SLOT, **context}
    subject = render_subject(name, context)
    context["subject"] = subject
    text = env.get_template(f"{name}.txt").render(context).split(NAME_SLOT)
    html = env.get_template(f"{name}.html").render(context).split(NAME_SLOT)
    emails = []
    for to, to_name in recipients:
        greeting = to_name or to
        emails.append(
            Email(
                to=to,
                subject=formatting.one_line(subject.replace(NAME_SLOT, greeting)),
                text=greeting.join(text),
                html=str(escape(greeting)).join(html),
                kind=kind,
                to_name=formatting.one_line(to_name),
                reply_to=reply_to,
            )
        )
    return emails
