"""credits_redeem decides at the account's time, so the caller need not lock it first.

Since decision 29's review, `redeemCredits` on PostgreSQL locked the account in a
statement of its own, read the application's clock once the lock was held and only then
called `credits_redeem`: a request that waited for the account never decided at a time
before the one that held it (no expired lot drawn, the ledger's order the order of its
times). That cost three round trips (BEGIN, the lock, COMMIT) under the hot account.

Now the function takes the time the application read before the call (`p_now`) and,
once it holds the account, decides at the latest of `p_now`, the account's latest ledger
entry (by time: the expiry job dates a whole run's entries at its start, so the last by
id is not always the latest) and its latest request (a PENDING one writes no entry; ids
are taken before the lock, so again the latest by time).
Every change to an account's lots (purchase, expiry, redemption, reversal, adjustment)
writes a ledger entry under the account lock, so the decision is never dated before
anything it can see: not before the purchase of a lot it draws from, not before an entry
already in the ledger, and a lot that expired while it waited is drawn only at a time
before its expiry, as the ledger then says. Indexes on the entries' and the requests'
account and time make each of the two one index probe. The key's claim, made before the lock, keeps
`p_now`. What writes no entry and no request (a refusal, a denial, a cancellation) does
not move the account's time: a request that waited behind one may be dated before it
(decision 29, "Later").

Nothing else changes; SQLite has no such function: this migration does nothing there.
"""

import importlib
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

REDEEM = """
CREATE OR REPLACE FUNCTION credits_redeem(
    p_user_id integer, p_operation text, p_key text, p_request_hash text,
    p_account_id integer, p_code_hash text, p_course_id integer, p_credits integer,
    p_now timestamptz, p_refusal jsonb
) RETURNS SETOF redemption LANGUAGE plpgsql AS $$
DECLARE
    v_account account%ROWTYPE;
    v_id integer := nextval(pg_get_serial_sequence('redemption', 'id'));
    v_approve boolean;
    v_balance bigint := 0;
    v_now timestamptz;
    v_row redemption%ROWTYPE;
BEGIN
    -- The claim first: a duplicate waits here, on the unique index, not on the account.
    INSERT INTO idempotency_record (user_id, operation, key, request_hash, response,
                                    created_at)
    VALUES (p_user_id, p_operation, p_key, p_request_hash,
            jsonb_build_object('redemption_id', v_id), p_now);
    SELECT * INTO v_account FROM account WHERE id = p_account_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such account' USING ERRCODE = 'TC002';
    END IF;
    IF v_account.code_hash IS DISTINCT FROM p_code_hash THEN
        RAISE EXCEPTION 'that redemption code is not valid' USING ERRCODE = 'TC001';
    END IF;
    -- Never before the account's latest entry or request (GREATEST skips a NULL).
    v_now := GREATEST(
        p_now,
        (SELECT max(created_at) FROM ledger_entry WHERE account_id = p_account_id),
        (SELECT max(requested_at) FROM redemption WHERE account_id = p_account_id));
    v_approve := v_account.approval_mode = 'AUTOMATIC'
        OR (v_account.auto_approve_limit IS NOT NULL
            AND p_credits <= v_account.auto_approve_limit);
    IF v_approve THEN
        v_balance := credits_available_locked(p_account_id, v_now);
        IF v_balance < p_credits THEN
            UPDATE idempotency_record SET response = p_refusal
            WHERE user_id = p_user_id AND operation = p_operation AND key = p_key;
            RETURN;
        END IF;
    END IF;
    INSERT INTO redemption (id, account_id, learner_id, course_id, credits, status,
                            requested_at, decided_at)
    VALUES (v_id, p_account_id, p_user_id, p_course_id, p_credits,
            CASE WHEN v_approve THEN 'APPROVED' ELSE 'PENDING' END,
            v_now, CASE WHEN v_approve THEN v_now END)
    RETURNING * INTO v_row;
    IF v_approve THEN
        PERFORM credits_draw(p_account_id, v_id, p_credits, v_balance, p_user_id, v_now);
    END IF;
    INSERT INTO outbox_message (kind, payload, created_at, attempts)
    VALUES (CASE WHEN v_approve THEN 'redemption_approved' ELSE 'redemption_requested' END,
            jsonb_build_object('redemption_id', v_id), v_now, 0);
    RETURN NEXT v_row;
END
$$
"""

TIMES = """
CREATE INDEX IF NOT EXISTS ledger_entry_account_time ON ledger_entry (account_id, created_at);
CREATE INDEX IF NOT EXISTS redemption_account_time ON redemption (account_id, requested_at);
"""
# Down: the function exactly as migration 0010 made it, and no indexes.
PREVIOUS = importlib.import_module("models.migrations.0010_redeem_code_check").REDEEM
NO_TIMES = "DROP INDEX IF EXISTS ledger_entry_account_time, redemption_account_time"


async def _on_postgres(schema_editor: Any, sql: str) -> None:
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    await schema_editor.client.execute_script(sql)


async def replace_function(apps: Any, schema_editor: Any) -> None:
    await _on_postgres(schema_editor, REDEEM)
    await _on_postgres(schema_editor, TIMES)


async def restore_function(apps: Any, schema_editor: Any) -> None:
    await _on_postgres(schema_editor, NO_TIMES)
    await _on_postgres(schema_editor, PREVIOUS)


class Migration(migrations.Migration):
    dependencies = [("credits", "0010_redeem_code_check")]

    operations = [ops.RunPython(replace_function, restore_function)]
