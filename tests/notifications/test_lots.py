from datetime import UTC, datetime

from ledger.events import OutboxKind
from ledger.users import sign_in
from models import Lot
from notifications import build_emails
from tests.notifications import factories as f

SETTINGS = f.mail_settings()


async def test_an_extension_tells_owners_the_old_and_new_dates_and_why(clock):
    team = await f.team()
    await f.buy(team)
    lot = await Lot.get()
    sam = await sign_in(sub="sam", email="help@credits.example", name="Sam Support")
    entry = await f.extend(
        lot, datetime(2027, 6, 1, 9, 0, tzinfo=UTC), by=sam, reason="Team was on leave"
    )
    message = await f.message(OutboxKind.LOT_EXTENDED, lot_id=lot.id, entry_id=entry.id)
    emails = await build_emails(message, settings=SETTINGS)
    assert [e.to for e in emails] == f.OWNERS
    text = emails[0].text
    assert "Used to expire: 1 March 2027, 09:00 UTC" in text
    assert "Expires now:    1 June 2027, 09:00 UTC" in text
    assert "Reason: Team was on leave" in text
    assert emails[0].subject == "Credits now expire on 1 June 2027: lot of 20,000 credits extended"


async def test_expiry_reminders_list_the_lots_that_still_hold_credits(clock):
    team = await f.team()
    await f.buy(team, credits=1_000, key="a")
    clock.advance(days=10)
    await f.buy(team, credits=500, key="b")
    clock.advance(days=10)
    await f.buy(team, credits=300, key="c")
    first, second, spent = await Lot.all().order_by("id")
    await Lot.filter(id=spent.id).update(remaining=0)
    message = await f.message(
        OutboxKind.CREDITS_EXPIRING,
        account_id=team.account.id,
        threshold_days=30,
        lot_ids=[first.id, second.id, spent.id],
    )
    emails = await build_emails(message, settings=SETTINGS)
    assert [e.to for e in emails] == f.OWNERS
    text = emails[0].text
    assert emails[0].subject == "1,500 credits in Data team expire within 30 days"
    assert "- 1,000 credits of 1,000 bought 1 March 2026: expire 1 March 2027, 09:00 UTC" in text
    assert "- 500 credits of 500 bought 11 March 2026: expire 11 March 2027, 09:00 UTC" in text
    assert "300" not in text


async def test_no_reminder_when_nothing_is_left_to_expire(clock):
    team = await f.team()
    await f.buy(team, credits=1_000)
    lot = await Lot.get()
    await Lot.filter(id=lot.id).update(remaining=0)
    message = await f.message(
        OutboxKind.CREDITS_EXPIRING, account_id=team.account.id, threshold_days=7, lot_ids=[lot.id]
    )
    assert await build_emails(message, settings=SETTINGS) == []


async def test_an_expiry_tells_owners_what_expired(clock):
    team = await f.team()
    await f.buy(team, credits=1_000)
    lot = await Lot.get()
    clock.set(datetime(2027, 3, 2, 0, 15, tzinfo=UTC))
    entry = await f.expire(lot)
    message = await f.message(
        OutboxKind.CREDITS_EXPIRED, account_id=team.account.id, entry_ids=[entry.id]
    )
    emails = await build_emails(message, settings=SETTINGS)
    assert [e.to for e in emails] == f.OWNERS
    assert emails[0].subject == "1,000 credits in Data team expired"
    assert "- 1,000 credits from the lot of 1,000 bought 1 March 2026" in emails[0].text
    assert "Available balance after the expiry: 0 credits" in emails[0].text
