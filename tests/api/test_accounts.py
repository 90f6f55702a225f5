from ledger.codes import normalise_code
from models import Account, AuditEvent
from tests.helpers import CREATE_ACCOUNT, create_account

UPDATE = """
mutation($input: UpdateAccountInput!) {
  updateAccount(input: $input) {
    account { name approvalMode autoApproveLimit }
    errors { code field }
  }
}"""
ADD = """
mutation($email: String!) {
  addAccountOwner(input: {email: $email}) { account { owners { email } } errors { code field } }
}"""
REMOVE = """
mutation($email: String!, $accountId: ID) {
  removeAccountOwner(input: {email: $email, accountId: $accountId}) {
    account { owners { email } } errors { code field }
  }
}"""
VIEWER = "{ viewer { user { email name } isSupport account { id name } } }"


async def test_create_account_defaults_name_to_the_creator(ann):
    account = await create_account(ann, approvalMode="MANUAL")
    assert account["name"] == "Ann Owner"
    assert account["approvalMode"] == "MANUAL"
    assert account["owners"] == [{"email": "ann@example.com", "name": "Ann Owner"}]
    assert normalise_code(account["redemptionCode"]) is not None
    viewer = (await ann.data(VIEWER))["viewer"]
    assert viewer["account"]["id"] == account["id"]
    assert viewer["isSupport"] is False


async def test_a_user_owns_at_most_one_account(ann):
    await create_account(ann, name="Platform team")
    payload = await ann.mutate("createAccount", CREATE_ACCOUNT, {"input": {"name": "Second"}})
    assert payload["account"] is None
    assert payload["errors"][0]["code"] == "ALREADY_OWNS_ACCOUNT"
    assert await Account.all().count() == 1


async def test_blank_name_is_invalid_and_nothing_is_written(ann):
    await create_account(ann, name="Team")
    payload = await ann.mutate("updateAccount", UPDATE, {"input": {"name": "   "}})
    assert payload["errors"] == [{"code": "INVALID_INPUT", "field": ["name"]}]
    assert (await Account.get()).name == "Team"


async def test_update_name_approval_and_limit_are_audited(ann):
    await create_account(ann, name="Team")
    payload = await ann.mutate(
        "updateAccount",
        UPDATE,
        {"input": {"name": "Data team", "approvalMode": "MANUAL", "autoApproveLimit": 300}},
    )
    assert payload == {
        "account": {"name": "Data team", "approvalMode": "MANUAL", "autoApproveLimit": 300},
        "errors": [],
    }
    cleared = await ann.mutate("updateAccount", UPDATE, {"input": {"autoApproveLimit": None}})
    assert cleared["account"]["autoApproveLimit"] is None
    negative = await ann.mutate("updateAccount", UPDATE, {"input": {"autoApproveLimit": -1}})
    assert negative["errors"][0]["code"] == "INVALID_INPUT"
    actions = [e.action for e in await AuditEvent.all().order_by("id")]
    assert actions == ["account.created", "account.updated", "account.updated"]


async def test_invited_owner_is_an_owner_at_once_and_linked_on_first_sign_in(ann, client_factory):
    await create_account(ann)
    payload = await ann.mutate("addAccountOwner", ADD, {"email": "Cleo@Example.com"})
    assert [o["email"] for o in payload["account"]["owners"]] == [
        "ann@example.com",
        "cleo@example.com",
    ]
    cleo = client_factory("cleo@example.com", "Cleo")
    viewer = (await cleo.data(VIEWER))["viewer"]
    assert viewer["user"] == {"email": "cleo@example.com", "name": "Cleo"}
    assert viewer["account"] is not None


async def test_any_owner_may_remove_the_creator_but_not_the_last_owner(ann, bob):
    account = await create_account(ann)
    await ann.mutate("addAccountOwner", ADD, {"email": "bob@example.com"})
    removed = await bob.mutate("removeAccountOwner", REMOVE, {"email": "ann@example.com"})
    assert removed["account"]["owners"] == [{"email": "bob@example.com"}]
    last = await bob.mutate("removeAccountOwner", REMOVE, {"email": "bob@example.com"})
    assert last["errors"] == [{"code": "LAST_OWNER", "field": ["email"]}]
    # Ann is no longer an owner: the account is now someone else's.
    gone = await ann.mutate(
        "removeAccountOwner", REMOVE, {"email": "bob@example.com", "accountId": account["id"]}
    )
    assert gone["errors"][0]["code"] == "NOT_FOUND"


async def test_owner_of_another_account_cannot_be_added(ann, bob):
    await create_account(ann)
    await create_account(bob)
    payload = await ann.mutate("addAccountOwner", ADD, {"email": "bob@example.com"})
    assert payload["errors"] == [{"code": "ALREADY_OWNS_ACCOUNT", "field": ["email"]}]


async def test_adding_an_owner_twice_changes_nothing(ann):
    await create_account(ann)
    await ann.mutate("addAccountOwner", ADD, {"email": "cleo@example.com"})
    again = await ann.mutate("addAccountOwner", ADD, {"email": "cleo@example.com"})
    assert again["errors"] == []
    assert len(again["account"]["owners"]) == 2


async def test_bad_email_is_invalid(ann):
    await create_account(ann)
    payload = await ann.mutate("addAccountOwner", ADD, {"email": "not-an-email"})
    assert payload["errors"] == [{"code": "INVALID_INPUT", "field": ["email"]}]


async def test_rotating_the_code_replaces_it_and_is_audited(ann):
    account = await create_account(ann)
    rotate = "mutation { rotateRedemptionCode { account { redemptionCode } errors { code } } }"
    payload = await ann.mutate("rotateRedemptionCode", rotate)
    new_code = payload["account"]["redemptionCode"]
    assert new_code != account["redemptionCode"]
    assert normalise_code(new_code) is not None
    assert await AuditEvent.filter(action="code.rotated").count() == 1


async def test_without_an_account_reads_say_not_found(ann):
    assert await ann.error_code("{ balance { available } }") == "NOT_FOUND"
    assert (await ann.data(VIEWER))["viewer"]["account"] is None


async def test_control_characters_are_invalid_input_everywhere_text_is_stored(ann):
    await create_account(ann, name="Team")
    for name in ["\x00Team", "Te\x07am"]:
        payload = await ann.mutate("updateAccount", UPDATE, {"input": {"name": name}})
        assert payload["errors"] == [{"code": "INVALID_INPUT", "field": ["name"]}]
    owner = await ann.mutate("addAccountOwner", ADD, {"email": "a\x00b@example.com"})
    assert owner["errors"][0]["code"] == "INVALID_INPUT"
    assert (await Account.get()).name == "Team"
