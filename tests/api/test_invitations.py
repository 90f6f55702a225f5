"""Invited owners: only a verified email links an invitation (issue 10, item 2)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from app import create_app
from settings import Settings, get_settings
from tests.helpers import GraphQLClient, buy, create_account

ADD = """
mutation($email: String!) {
  addAccountOwner(input: {email: $email}) { account { owners { email } } errors { code field } }
}"""
VIEWER = "{ viewer { user { email name } account { id } } }"
SECRETS = "{ account { name redemptionCode } balance { available } }"
MISSING = object()


def token(sub: str, email: str, verified: object = True, name: str = "Someone") -> str:
    """A token as the identity provider would sign it; MISSING leaves `email_verified` out."""
    claims: dict[str, Any] = {
        "sub": sub,
        "email": email,
        "name": name,
        "exp": int(time.time()) + 600,
    }
    if verified is not MISSING:
        claims["email_verified"] = verified
    return jwt.encode(claims, get_settings().jwt_secret.get_secret_value(), algorithm="HS256")


def user(sub: str, email: str, verified: object = True) -> GraphQLClient:
    return GraphQLClient(token(sub, email, verified))


async def owners(client: GraphQLClient) -> list[str]:
    data = await client.data("{ account { owners { email } } }")
    return [o["email"] for o in data["account"]["owners"]]


async def sees_no_account(client: GraphQLClient) -> None:
    assert (await client.data(VIEWER))["viewer"]["account"] is None
    body = await client.post(SECRETS)
    assert body["data"] is None or body["data"].get("account") is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"NOT_FOUND"}
    assert "redemptionCode" not in str(body["data"])


async def invite(owner: GraphQLClient, email: str) -> dict[str, Any]:
    return dict(await owner.mutate("addAccountOwner", ADD, {"email": email}))


async def test_an_unverified_email_does_not_take_over_an_invitation(ann):
    account = await create_account(ann)
    await buy(ann, 1000, "k1")
    mallory = user("aaa|mallory", "cfo@a.test", verified=False)
    await mallory.data(VIEWER)  # signed in before the invitation
    assert (await invite(ann, "cfo@a.test"))["errors"] == []
    await sees_no_account(mallory)
    await sees_no_account(user("aaa|mallory2", "cfo@a.test", verified=False))

    cfo = user("idp|cfo", "cfo@a.test")
    data = await cfo.data(SECRETS)
    assert data["account"]["redemptionCode"] == account["redemptionCode"]
    assert data["balance"]["available"] == 1000
    assert await owners(ann) == ["ann@example.com", "cfo@a.test"]
    await sees_no_account(mallory)
    assert (await user("aaa|mallory", "cfo@a.test", False).data(VIEWER))["viewer"]["user"] == {
        "email": "cfo@a.test",
        "name": "Someone",
    }


async def test_an_unverified_user_who_signed_in_first_is_not_the_one_invited(ann):
    await create_account(ann)
    mallory = user("aaa|mallory", "cfo@a.test", verified=False)
    await create_account(mallory, name="Mallory's own")

    # Not "cfo@a.test already owns another account": that would tell who signed in.
    assert (await invite(ann, "cfo@a.test"))["errors"] == []
    assert (await mallory.data("{ account { name } }"))["account"]["name"] == "Mallory's own"
    assert await owners(mallory) == ["cfo@a.test"]

    cfo = user("idp|cfo", "cfo@a.test")
    assert (await cfo.data(VIEWER))["viewer"]["account"] is not None
    assert await owners(ann) == ["ann@example.com", "cfo@a.test"]


async def test_an_unverified_user_is_a_learner_as_themselves(ann):
    await create_account(ann)
    await invite(ann, "cfo@a.test")
    mallory = user("aaa|mallory", "cfo@a.test", verified=False)
    viewer = (await mallory.data(VIEWER))["viewer"]
    assert viewer == {"user": {"email": "cfo@a.test", "name": "Someone"}, "account": None}
    assert (await mallory.data("{ myRedemptions { totalCount } }"))["myRedemptions"] == {
        "totalCount": 0
    }


async def test_a_missing_email_verified_claim_is_unverified_unless_configured(ann, database):
    await create_account(ann)
    await invite(ann, "cfo@a.test")
    await sees_no_account(user("idp|cfo", "cfo@a.test", verified=MISSING))
    await sees_no_account(user("idp|cfo2", "cfo@a.test", verified="false"))

    trusting = create_app(Settings(jwt_emails_verified=True), manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=trusting), base_url="http://test"
    ) as http:
        for sub, verified in [("idp|cfo3", False), ("idp|cfo4", MISSING)]:
            response = await http.post(
                "/graphql",
                json={"query": VIEWER},
                headers={"Authorization": f"Bearer {token(sub, 'cfo@a.test', verified)}"},
            )
            linked = response.json()["data"]["viewer"]["account"] is not None
            # An explicit `false` is never overridden; a missing claim is trusted.
            assert linked is (verified is MISSING)


async def test_an_unverified_claim_does_not_change_the_stored_email(ann):
    await create_account(ann)
    bob = user("idp|bob", "bob@example.com")
    assert (await bob.data(VIEWER))["viewer"]["user"]["email"] == "bob@example.com"
    bob_unverified = user("idp|bob", "cfo@a.test", verified=False)
    assert (await bob_unverified.data(VIEWER))["viewer"]["user"]["email"] == "bob@example.com"

    await invite(ann, "cfo@a.test")
    await sees_no_account(bob)
    # A verified change of address is taken.
    assert (await user("idp|bob", "bob@b.test").data(VIEWER))["viewer"]["user"]["email"] == (
        "bob@b.test"
    )


async def test_a_user_whose_email_is_verified_later_receives_the_invitation(ann):
    await create_account(ann)
    cfo_unverified = user("idp|cfo", "cfo@a.test", verified=False)
    await cfo_unverified.data(VIEWER)
    await invite(ann, "cfo@a.test")
    await sees_no_account(cfo_unverified)

    cfo = user("idp|cfo", "cfo@a.test")
    assert (await cfo.data(VIEWER))["viewer"]["account"] is not None
    assert await owners(ann) == ["ann@example.com", "cfo@a.test"]
    # Inviting the address again now finds the same, linked person.
    assert len((await invite(ann, "cfo@a.test"))["account"]["owners"]) == 2


async def test_another_sub_with_the_same_verified_email_takes_over_no_one(ann):
    await create_account(ann)
    await invite(ann, "cleo@example.com")
    cleo = user("idp|cleo", "cleo@example.com")
    assert (await cleo.data(VIEWER))["viewer"]["account"] is not None

    # A second identity with the same verified address (another login method, or an
    # address given to someone new) is a new user: it gets nothing of the first one's.
    other = user("aaa|cleo", "cleo@example.com")
    await sees_no_account(other)
    again = await invite(ann, "cleo@example.com")
    assert again["errors"] == []
    assert len(again["account"]["owners"]) == 2
    await sees_no_account(other)
    assert (await cleo.data(VIEWER))["viewer"]["account"] is not None
