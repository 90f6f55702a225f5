from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace as Row
from typing import Any

import pytest
from jinja2 import UndefinedError

from notifications.render import TEMPLATES, render_email, render_for_each


def _approval(title: str) -> dict[str, Any]:
    return {
        "redemption": Row(
            credits=150,
            course=Row(title=title),
            account=Row(name="Data & <team>"),
            decided_at=None,
            requested_at=datetime(2026, 3, 1, tzinfo=UTC),
        ),
        "portal_url": "https://portal.example.com",
        "support_email": "help@credits.example",
    }


def test_html_is_escaped_and_text_is_not():
    email = render_email(
        "redemption_approved_learner",
        kind="redemption_approved",
        to="lea@example.org",
        to_name="Lea <b>",
        **_approval("<script>alert(1)</script> & more"),
    )
    assert "<script>alert(1)</script> & more" in email.text
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in email.html
    assert "Lea &lt;b&gt;" in email.html
    assert "Data &amp; &lt;team&gt;" in email.html


def test_subject_is_one_line_whatever_the_data():
    email = render_email(
        "redemption_approved_learner",
        kind="redemption_approved",
        to="lea@example.org",
        **_approval("Line one\r\nBcc: someone@evil.example"),
    )
    assert email.subject == "Approved: Line one Bcc: someone@evil.example"


def test_a_missing_value_is_an_error_not_a_blank():
    with pytest.raises(UndefinedError):
        render_email("redemption_approved_learner", kind="x", to="lea@example.org")


def test_every_text_template_has_an_html_twin_and_a_subject():
    texts = {p.stem for p in Path(TEMPLATES).glob("*.txt") if not p.stem.startswith("_")}
    htmls = {p.stem for p in Path(TEMPLATES).glob("*.html") if not p.stem.startswith("_")}
    assert texts == htmls
    for name in texts:
        assert "{% block subject %}" in (Path(TEMPLATES) / f"{name}.txt").read_text()


def test_templates_are_ascii_so_plain_bodies_travel_as_7bit():
    for path in Path(TEMPLATES).iterdir():
        assert path.read_text().isascii(), path.name


def test_rendering_once_for_many_owners_is_rendering_for_each():
    names = [("lea@example.org", "Lea <b> & \"Co\""), ("zoe@example.org", "Zoë  Ünal "),
             ("ivy@example.org", "")]  # fmt: skip
    context = _approval("Café <Analytics>")
    once = render_for_each("redemption_approved_learner", names, kind="k", **context)
    for (to, to_name), email in zip(names, once, strict=True):
        assert email == render_email(
            "redemption_approved_learner", kind="k", to=to, to_name=to_name, **context
        )
    assert render_for_each("redemption_approved_learner", [], kind="k", **context) == []
