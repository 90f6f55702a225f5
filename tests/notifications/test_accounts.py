from ledger.accounts import display_code, rotate_code
from ledger.actors import Actor
from ledger.events import OutboxKind
from models import Account, OutboxMessage, QuoteRequest, QuoteStatus
from notifications import build_emails
from tests.notifications import factories as f

SETTINGS = f.mail_settings()
PORTAL = "https://portal.example.com"


async def test_purchase_paid_tells_every_owner_what_was_bought_and_how_to_use_it(clock):
    team = await f.team()
    await f.buy(team, credits=20_000)
    emails = await build_emails(await f.latest(OutboxKind.PURCHASE_PAID), settings=SETTINGS)

    assert [e.to for e in emails] == f.OWNERS  # the invited owner Ivy included
    code = display_code(team.account)
    for email in emails:
        assert email.subject == "20,000 credits added to Data team"
        for body in (email.text, email.html):
            assert "20,000" in body
            assert "$16,000.00" in body
            assert "1 March 2027, 09:00 UTC" in body  # the lot's expiry
            assert code in body
            assert PORTAL in body
        assert "choose training credits as the payment type and enter the code" in email.text
        assert "choose <em>training credits</em> as the payment type" in email.html
    assert emails[0].text.startswith("Hello Ann Owner,")
    assert emails[2].text.startswith("Hello ivy@example.com,")  # no name before sign-in


async def test_purchase_paid_by_invoice_names_the_invoice(clock):
    team = await f.team()
    await f.pay_invoice(team, credits=5_000, invoice_number="INV-2026-001")
    emails = await build_emails(await f.latest(OutboxKind.PURCHASE_PAID), settings=SETTINGS)
    assert len(emails) == 3
    assert "$5,000.00" in emails[0].text
    assert "by invoice INV-2026-001" in emails[0].text


async def test_a_new_owner_learns_who_added_them_to_which_account(clock):
    team = await f.team()
    messages = [
        m
        for m in await OutboxMessage.filter(kind=OutboxKind.OWNER_ADDED).order_by("id")
        if m.payload["user_id"] == team.ivy.id
    ]
    emails = await build_emails(messages[0], settings=SETTINGS)
    assert [e.to for e in emails] == ["ivy@example.com"]
    (email,) = emails
    assert "Ann Owner (ann@example.com) added you as an owner" in email.text
    assert '"Data team"' in email.text
    assert PORTAL in email.text and PORTAL in email.html


async def test_code_rotation_sends_the_new_code_to_all_owners(clock):
    team = await f.team()
    old = display_code(team.account)
    await rotate_code(actor=Actor(user=team.bob), account_id=None)
    new = display_code(await Account.get(id=team.account.id))
    emails = await build_emails(await f.latest(OutboxKind.CODE_ROTATED), settings=SETTINGS)
    assert [e.to for e in emails] == f.OWNERS
    for email in emails:
        assert new in email.text and new in email.html
        assert old not in email.text
        assert "Bob Owner replaced the redemption code" in email.text


async def test_a_quote_request_goes_to_the_support_mailbox(clock):
    team = await f.team()
    quote = await QuoteRequest.create(
        account=team.account,
        requested_by=team.ann,
        credits=25_000,
        unit_price_cents=80,
        discount_percent=20,
        amount_cents=2_000_000,
        promo_code="twentyoffTC",
        message="Invoice to ACME <finance@acme.example>, PO 42",
        status=QuoteStatus.OPEN,
        created_at=clock(),
    )
    message = await f.message(OutboxKind.QUOTE_REQUESTED, quote_id=quote.id)
    emails = await build_emails(message, settings=f.mail_settings(support_email="quotes@x.example"))
    (email,) = emails
    assert email.to == "quotes@x.example"
    assert email.reply_to == "ann@example.com"
    assert "Data team" in email.text
    assert "25,000" in email.text and "$20,000.00" in email.text
    assert "Invoice to ACME <finance@acme.example>, PO 42" in email.text
    assert "Invoice to ACME &lt;finance@acme.example&gt;, PO 42" in email.html
