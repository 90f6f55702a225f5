import pytest

from ledger.events import OutboxKind
from models import OutboxMessage, RedemptionStatus
from notifications import UnknownKind, build_emails
from notifications.build import BUILDERS
from tests.notifications import factories as f

SETTINGS = f.mail_settings()


def test_every_outbox_kind_has_an_email():
    kinds = set(OutboxKind)
    assert kinds == set(BUILDERS)


async def test_an_unknown_kind_is_refused():
    message = OutboxMessage(id=1, kind="carrier_pigeon", payload={})
    with pytest.raises(UnknownKind):
        await build_emails(message, settings=SETTINGS)


async def test_one_email_per_address_the_learner_copy_first(clock):
    team = await f.team()
    await f.buy(team)
    course = await f.course()
    # An owner who redeems is emailed once, as the learner.
    row = await f.redemption(
        team, by=team.ann, of=course, status=RedemptionStatus.APPROVED, decided_by=team.bob
    )
    message = await f.message(OutboxKind.REDEMPTION_APPROVED, redemption_id=row.id)
    emails = await build_emails(message, settings=SETTINGS)
    assert [e.to for e in emails] == f.OWNERS
    assert "Your request to redeem 150 training credits" in emails[0].text
