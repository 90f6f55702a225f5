"""Every connection pages both ways over the same keyset, newest first.

Forward (`first`/`after`) and backward (`last`/`before`) walks visit the same rows in the
same order, `pageInfo` says at both ends that there is nothing further, a backward page
ending at a forward page's start is the forward page before it, and arguments that do
not make a page (`first` with `last`, a cursor this API did not make) are INVALID_INPUT.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import pytest

from tests.helpers import GraphQLClient, buy, create_account, gid, pk, redeem, upsert_course

ROWS = 5
SIZE = 2

# Every connection root field, and who lists it (the owner their own account's).
CONNECTIONS = {
    "lots": "owner",
    "transactions": "owner",
    "redemptions": "owner",
    "myRedemptions": "learner",
    "courses": "owner",
    "quoteRequests": "owner",
    "accounts": "support",
    "auditLog": "owner",
}

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String) {
  FIELD(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


@pytest.fixture
def callers(
    ann: GraphQLClient, support: GraphQLClient, client_factory: Any
) -> dict[str, GraphQLClient]:
    return {
        "owner": ann,
        "support": support,
        "learner": client_factory("lee@example.com", "Lee Learner"),
    }


async def _world(callers: dict[str, GraphQLClient], client_factory: Any) -> None:
    """At least ROWS rows in every list: Ann's account with ROWS lots, quotes and
    redemptions (by Lee, each on its own course), and ROWS accounts in all."""
    ann, support, learner = callers["owner"], callers["support"], callers["learner"]
    account = await create_account(ann, name="Paged Ltd")
    for n in range(ROWS):
        assert (await buy(ann, 100, f"p{n}"))["errors"] == []
        course = await upsert_course(support, f"C-{n}", f"Course {n}", 10)
        redeemed = await redeem(learner, account["redemptionCode"], course["id"], f"r{n}")
        assert redeemed["errors"] == [], redeemed
        quote = await ann.data(
            "mutation { requestQuote(input: {credits: 900}) { errors { code } } }"
        )
        assert quote["requestQuote"]["errors"] == []
    for n in range(ROWS - 1):
        await create_account(client_factory(f"owner{n}@example.com"), name=f"Other {n}")


async def _page(client: GraphQLClient, field: str, **args: Any) -> dict[str, Any]:
    data = await client.data(PAGE.replace("FIELD", field), args)
    return dict(data[field])


def _ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def _check_cursors(page: dict[str, Any]) -> None:
    """startCursor and endCursor are the first and last edges' cursors (None if empty)."""
    edges, info = page["edges"], page["pageInfo"]
    assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)


@pytest.mark.parametrize("field", CONNECTIONS)
async def test_pages_backward_over_the_same_rows_as_forward(
    field: str, callers: dict[str, GraphQLClient], client_factory: Any, clock: Any
) -> None:
    await _world(callers, client_factory)
    client = callers[CONNECTIONS[field]]
    everything = await _page(client, field, first=100)
    rows = _ids(everything)
    assert len(rows) >= ROWS and everything["totalCount"] == len(rows)
    keys = [pk(row) for row in rows]
    assert keys == sorted(keys, reverse=True), "newest first"

    # Forward: first:2, then after the end cursor, until there is no next page.
    forward = [await _page(client, field, first=SIZE)]
    while forward[-1]["pageInfo"]["hasNextPage"]:
        forward.append(
            await _page(client, field, first=SIZE, after=forward[-1]["pageInfo"]["endCursor"])
        )
    assert [row for page in forward for row in _ids(page)] == rows
    for n, page in enumerate(forward):
        _check_cursors(page)
        assert page["totalCount"] == len(rows)
        assert len(page["edges"]) == (SIZE if n < len(forward) - 1 else len(rows) - SIZE * n)
        assert page["pageInfo"]["hasPreviousPage"] == (n > 0)
        assert page["pageInfo"]["hasNextPage"] == (n < len(forward) - 1)

    # Backward: last:2 from the end of the list, then before the start cursor, until
    # there is no previous page. Each page still lists newest first.
    backward = [await _page(client, field, last=SIZE)]
    while backward[-1]["pageInfo"]["hasPreviousPage"]:
        before = backward[-1]["pageInfo"]["startCursor"]
        backward.append(await _page(client, field, last=SIZE, before=before))
    assert [row for page in reversed(backward) for row in _ids(page)] == rows
    for n, page in enumerate(backward):
        _check_cursors(page)
        assert page["totalCount"] == len(rows)
        assert len(page["edges"]) == (SIZE if n < len(backward) - 1 else len(rows) - SIZE * n)
        assert page["pageInfo"]["hasNextPage"] == (n > 0)  # rows after `before`
        assert page["pageInfo"]["hasPreviousPage"] == (n < len(backward) - 1)

    # Every row has one cursor, whichever way it was reached.
    cursors = {e["node"]["id"]: e["cursor"] for page in forward for e in page["edges"]}
    assert {e["node"]["id"]: e["cursor"] for page in backward for e in page["edges"]} == cursors

    # Back from where a forward page starts is the forward page before it.
    for earlier, later in itertools.pairwise(forward):
        before = later["pageInfo"]["startCursor"]
        page = await _page(client, field, last=SIZE, before=before)
        assert page["edges"] == earlier["edges"]
        assert page["pageInfo"]["hasNextPage"] is True
        assert page["pageInfo"]["hasPreviousPage"] == (earlier is not forward[0])

    # Past either end: an empty page that says so.
    newest, oldest = everything["edges"][0]["cursor"], everything["edges"][-1]["cursor"]
    past_start = await _page(client, field, last=SIZE, before=newest)
    assert past_start["edges"] == []
    assert past_start["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }
    past_end = await _page(client, field, first=SIZE, after=oldest)
    assert past_end["edges"] == []
    assert past_end["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


FORGED = [
    "not-a-cursor",
    "",
    _b64("x:1"),  # not a keyset cursor
    _b64("k:abc"),
    _b64("k:0"),
    _b64("k:-1"),
    _b64(f"k:{2**31}"),
    gid("Lot", 1),  # an id is not a cursor
]


@pytest.mark.parametrize("field", CONNECTIONS)
async def test_arguments_that_make_no_page_are_invalid_input(
    field: str, callers: dict[str, GraphQLClient], client_factory: Any
) -> None:
    await _world(callers, client_factory)
    client = callers[CONNECTIONS[field]]
    cursor = (await _page(client, field, first=SIZE))["pageInfo"]["endCursor"]
    document = PAGE.replace("FIELD", field)

    async def refused(**args: Any) -> list[tuple[str, Any]]:
        body = await client.post(document, args)
        assert (body["data"] or {}).get(field) is None, body
        return [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]]

    assert await refused(first=SIZE, last=SIZE) == [("INVALID_INPUT", ["last"])]
    assert await refused(first=SIZE, last=SIZE, after=cursor) == [("INVALID_INPUT", ["last"])]
    for size in (-1, 101):
        assert await refused(last=size) == [("INVALID_INPUT", ["last"])]
        assert await refused(first=size) == [("INVALID_INPUT", ["first"])]
    for forged in FORGED:
        assert await refused(last=SIZE, before=forged) == [("INVALID_INPUT", ["before"])], forged
        assert await refused(first=SIZE, after=forged) == [("INVALID_INPUT", ["after"])], forged
