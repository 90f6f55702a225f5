"""Redeem, approve and deny on PostgreSQL in one statement each (issue 14; decision 29).

PL/pgSQL functions that take the locks, decide and write everything a redemption
writes, so that the account's row lock is held for one round trip instead of a dozen.
Each statement inside a function reads with a fresh snapshot (READ COMMITTED), so the
lots are read after the account lock is granted; one data-modifying CTE could not do
that: all its parts see the snapshot taken before it waited for the lock.

They write the same rows as the Python path (`ledger.redemptions`, `ledger.draws`,
`ledger.entries.write_draws`, `ledger.outbox.enqueue`), which SQLite still runs:

- `credits_available_locked`: locks the account's unexpired lots with credits left in
  draw order (expiry, purchase, id) and answers their sum. The caller holds the
  account lock.
- `credits_draw`: takes credits from those lots in draw order, with a draw and a
  REDEMPTION ledger entry (its `balance_after`) per lot.
- `credits_redeem`: claims the idempotency key, locks the account, checks the code
  was not rotated, approves at once or leaves pending, writes the redemption, draws,
  entries, outbox row and the stored answer; returns the redemption, or no row when an
  approval at once is not covered (the refusal is stored with the key, nothing else).
- `credits_decide`: approves or denies redemptions in the order given, each standing or
  failing alone (NOT_FOUND, NOT_PENDING, INSUFFICIENT_CREDITS write nothing); one row
  per id with its outcome.

Errors the caller maps: SQLSTATE TC001 (the code was rotated since it was looked up)
and TC002 (no such account); 23505 on the idempotency record (a duplicate won the key).
SQLite has no such functions: this migration does nothing there.
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

AVAILABLE = """
CREATE FUNCTION credits_available_locked(p_account_id integer, p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_total bigint := 0;
    v_lot record;
BEGIN
    FOR v_lot IN
        SELECT remaining FROM lot
        WHERE account_id = p_account_id AND expires_at > p_now AND remaining > 0
        ORDER BY expires_at, purchased_at, id
        FOR UPDATE
    LOOP
        v_total := v_total + v_lot.remaining;
    END LOOP;
    RETURN v_total;
END
$$
"""

DRAW = """
CREATE FUNCTION credits_draw(
    p_account_id integer, p_redemption_id integer, p_credits integer, p_balance bigint,
    p_actor_id integer, p_now timestamptz
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_needed integer := p_credits;
    v_balance bigint := p_balance;
    v_take integer;
    v_lot record;
BEGIN
    FOR v_lot IN
        SELECT id, remaining FROM lot
        WHERE account_id = p_account_id AND expires_at > p_now AND remaining > 0
        ORDER BY expires_at, purchased_at, id
    LOOP
        v_take := least(v_lot.remaining, v_needed);
        UPDATE lot SET remaining = remaining - v_take
        WHERE id = v_lot.id AND remaining >= v_take AND expires_at > p_now;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'lot % changed while the account was locked', v_lot.id;
        END IF;
        v_balance := v_balance - v_take;
        v_needed := v_needed - v_take;
        INSERT INTO draw (redemption_id, lot_id, credits)
        VALUES (p_redemption_id, v_lot.id, v_take);
        INSERT INTO ledger_entry (account_id, lot_id, kind, credits, balance_after,
                                  actor_id, redemption_id, created_at)
        VALUES (p_account_id, v_lot.id, 'REDEMPTION', -v_take, v_balance,
                p_actor_id, p_redemption_id, p_now);
        EXIT WHEN v_needed = 0;
    END LOOP;
    IF v_needed <> 0 THEN
        RAISE EXCEPTION 'the locked lots of account % hold less than they did', p_account_id;
    END IF;
END
$$
"""

REDEEM = """
CREATE FUNCTION credits_redeem(
    p_user_id integer, p_operation text, p_key text, p_request_hash text,
    p_account_id integer, p_code_hash text, p_course_id integer, p_credits integer,
    p_now timestamptz, p_refusal jsonb
) RETURNS SETOF redemption LANGUAGE plpgsql AS $$
DECLARE
    v_account account%ROWTYPE;
    v_id integer := nextval(pg_get_serial_sequence('redemption', 'id'));
    v_approve boolean;
    v_balance bigint := 0;
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
    IF v_account.code_hash <> p_code_hash THEN
        RAISE EXCEPTION 'that redemption code is not valid' USING ERRCODE = 'TC001';
    END IF;
    v_approve := v_account.approval_mode = 'AUTOMATIC'
        OR (v_account.auto_approve_limit IS NOT NULL
            AND p_credits <= v_account.auto_approve_limit);
    IF v_approve THEN
        v_balance := credits_available_locked(p_account_id, p_now);
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
            p_now, CASE WHEN v_approve THEN p_now END)
    RETURNING * INTO v_row;
    IF v_approve THEN
        PERFORM credits_draw(p_account_id, v_id, p_credits, v_balance, p_user_id, p_now);
    END IF;
    INSERT INTO outbox_message (kind, payload, created_at, attempts)
    VALUES (CASE WHEN v_approve THEN 'redemption_approved' ELSE 'redemption_requested' END,
            jsonb_build_object('redemption_id', v_id), p_now, 0);
    RETURN NEXT v_row;
END
$$
"""

DECIDE = """
CREATE FUNCTION credits_decide(
    p_ids integer[], p_actor_id integer, p_approve boolean, p_reason text,
    p_now timestamptz
) RETURNS TABLE (id integer, outcome text, status text, balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_id integer;
    v_row redemption%ROWTYPE;
    v_balance bigint;
BEGIN
    -- The lock order: accounts by id, then redemptions by id, then each one's lots.
    PERFORM 1 FROM account a
    WHERE a.id IN (SELECT r.account_id FROM redemption r WHERE r.id = ANY(p_ids))
    ORDER BY a.id FOR NO KEY UPDATE;
    PERFORM 1 FROM redemption r WHERE r.id = ANY(p_ids) ORDER BY r.id FOR UPDATE;
    FOREACH v_id IN ARRAY p_ids LOOP
        SELECT * INTO v_row FROM redemption r WHERE r.id = v_id;
        IF NOT FOUND THEN
            RETURN QUERY SELECT v_id, 'NOT_FOUND', NULL::text, NULL::bigint;
            CONTINUE;
        END IF;
        IF v_row.status <> 'PENDING' THEN
            RETURN QUERY SELECT v_id, 'NOT_PENDING', v_row.status::text, NULL::bigint;
            CONTINUE;
        END IF;
        IF p_approve THEN
            v_balance := credits_available_locked(v_row.account_id, p_now);
            IF v_balance < v_row.credits THEN
                RETURN QUERY SELECT v_id, 'INSUFFICIENT_CREDITS', v_row.status::text,
                                    v_balance;
                CONTINUE;
            END IF;
            PERFORM credits_draw(v_row.account_id, v_id, v_row.credits, v_balance,
                                 p_actor_id, p_now);
        END IF;
        UPDATE redemption r
        SET status = CASE WHEN p_approve THEN 'APPROVED' ELSE 'DENIED' END,
            decided_at = p_now, decided_by_id = p_actor_id,
            reason = CASE WHEN p_approve THEN NULL ELSE p_reason END
        WHERE r.id = v_id;
        INSERT INTO outbox_message (kind, payload, created_at, attempts)
        VALUES (CASE WHEN p_approve THEN 'redemption_approved'
                     ELSE 'redemption_denied' END,
                jsonb_build_object('redemption_id', v_id), p_now, 0);
        RETURN QUERY SELECT v_id, 'DECIDED',
            CASE WHEN p_approve THEN 'APPROVED' ELSE 'DENIED' END, NULL::bigint;
    END LOOP;
END
$$
"""

FUNCTIONS = [AVAILABLE, DRAW, REDEEM, DECIDE]
DROP = [
    "DROP FUNCTION credits_decide(integer[], integer, boolean, text, timestamptz)",
    "DROP FUNCTION credits_redeem(integer, text, text, text, integer, text, integer, integer,"
    " timestamptz, jsonb)",
    "DROP FUNCTION credits_draw(integer, integer, integer, bigint, integer, timestamptz)",
    "DROP FUNCTION credits_available_locked(integer, timestamptz)",
]


async def _on_postgres(schema_editor: Any, statements: list[str]) -> None:
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    for sql in statements:
        await schema_editor.client.execute_script(sql)


async def create_functions(apps: Any, schema_editor: Any) -> None:
    await _on_postgres(schema_editor, FUNCTIONS)


async def drop_functions(apps: Any, schema_editor: Any) -> None:
    await _on_postgres(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [("credits", "0007_user_email_verified")]

    operations = [ops.RunPython(create_functions, drop_functions)]
