from ledger.events import OutboxKind
from models import RedemptionStatus
from notifications import build_emails
from tests.notifications import factories as f

SETTINGS = f.mail_settings()
PENDING_URL = "https://portal.example.com/redemptions?status=PENDING"


async def _setup(status=RedemptionStatus.PENDING, *, decided_by=None, reason=None, name="Lea"):
    team = await f.team()
    await f.buy(team)
    lea = await f.learner(name=f"{name} Learner" if name else "")
    course = await f.course("Data <Science> & You", price=150)
    row = await f.redemption(team, by=lea, of=course, status=status, decided_by=decided_by)
    if reason is not None:
        row.reason = reason
        await row.save(update_fields=["reason"])
    return team, row


async def test_a_waiting_request_asks_every_owner_to_decide(clock):
    _, row = await _setup()
    message = await f.message(OutboxKind.REDEMPTION_REQUESTED, redemption_id=row.id)
    emails = await build_emails(message, settings=SETTINGS)
    assert [e.to for e in emails] == f.OWNERS
    for email in emails:
        assert "Lea Learner (lea@example.org) asks to redeem 150 credits" in email.text
        assert "Data <Science> & You" in email.text
        assert "Data &lt;Science&gt; &amp; You" in email.html
        assert PENDING_URL in email.text
        assert 'href="' + PENDING_URL + '"' in email.html


async def test_the_learner_gets_the_approval_sentence_and_owners_a_copy(clock):
    message = await f.approved_redemption_message()
    learner, *owners = await build_emails(message, settings=SETTINGS)

    assert learner.to == "lea@example.org"
    assert f.APPROVED_SENTENCE in learner.text
    assert f.APPROVED_SENTENCE in learner.html
    assert [e.to for e in owners] == f.OWNERS
    for email in owners:
        assert "Lea Learner's request to redeem 150 credits" in email.text
        assert "approved by Bob Owner" in email.text
        assert "Balance after:  19,850 credits" in email.text


async def test_a_learner_without_a_name_is_greeted_by_email_and_automatic_is_said(clock):
    _, row = await _setup(RedemptionStatus.APPROVED, name="")
    message = await f.message(OutboxKind.REDEMPTION_APPROVED, redemption_id=row.id)
    learner, owner, *_ = await build_emails(message, settings=SETTINGS)
    assert (
        "Hello lea@example.org, Your request to redeem 150 training credits for "
        "Data <Science> & You has been approved." in learner.text
    )
    assert "approved automatically" in owner.text


async def test_a_denial_tells_the_learner_why(clock):
    _, row = await _setup(RedemptionStatus.DENIED, reason="Not in this year's plan")
    message = await f.message(OutboxKind.REDEMPTION_DENIED, redemption_id=row.id)
    (email,) = await build_emails(message, settings=SETTINGS)
    assert email.to == "lea@example.org"
    assert "Data <Science> & You" in email.text
    assert "Reason: Not in this year's plan" in email.text
    assert "Not in this year&#39;s plan" in email.html


async def test_a_cancellation_tells_every_owner(clock):
    _, row = await _setup(RedemptionStatus.CANCELLED)
    message = await f.message(OutboxKind.REDEMPTION_CANCELLED, redemption_id=row.id)
    emails = await build_emails(message, settings=SETTINGS)
    assert [e.to for e in emails] == f.OWNERS
    assert "Lea Learner (lea@example.org) cancelled their request" in emails[0].text


async def test_a_reversal_tells_the_learner_and_the_owners_why(clock):
    _, row = await _setup(RedemptionStatus.REVERSED)
    message = await f.message(
        OutboxKind.REDEMPTION_REVERSED, redemption_id=row.id, reason="Course was cancelled"
    )
    learner, *owners = await build_emails(message, settings=SETTINGS)
    assert learner.to == "lea@example.org"
    assert "was reversed" in learner.text
    assert [e.to for e in owners] == f.OWNERS
    for email in [learner, *owners]:
        assert "Reason: Course was cancelled" in email.text
