"""The ledger's invariants, enforced by the database.

Tortoise's CreateModel does not emit `Meta.constraints`, and SQLite cannot add a CHECK
to an existing table, so this migration writes them by hand: real CHECK constraints
on PostgreSQL, and BEFORE INSERT/UPDATE triggers that abort on SQLite. On both, ledger
entries cannot be updated; on PostgreSQL they cannot be deleted either (tests empty
SQLite tables with DELETE between cases).
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

# (table, name, expression); `{n}` is "" on PostgreSQL and "NEW." in SQLite triggers.
CHECKS: list[tuple[str, str, str]] = [
    ("account", "account_name_not_empty", "length({n}name) > 0"),
    (
        "account",
        "account_auto_approve_limit_nonnegative",
        "{n}auto_approve_limit IS NULL OR {n}auto_approve_limit >= 0",
    ),
    (
        "purchase",
        "purchase_credits_range",
        "{n}credits > 0 AND {n}credits <= 10000000",
    ),
    (
        "purchase",
        "purchase_amount_exact",
        "{n}amount_cents = {n}credits * {n}unit_price_cents",
    ),
    (
        "purchase",
        "purchase_discount_range",
        "{n}discount_percent >= 0 AND {n}discount_percent <= 100",
    ),
    ("lot", "lot_credits_positive", "{n}credits > 0"),
    ("lot", "lot_remaining_range", "{n}remaining >= 0 AND {n}remaining <= {n}credits"),
    ("ledger_entry", "entry_balance_nonnegative", "{n}balance_after >= 0"),
    (
        "ledger_entry",
        "entry_sign_matches_kind",
        "({n}kind IN ('PURCHASE', 'REVERSAL') AND {n}credits > 0)"
        " OR ({n}kind IN ('REDEMPTION', 'EXPIRY') AND {n}credits < 0)"
        " OR ({n}kind = 'ADJUSTMENT' AND {n}credits <> 0)"
        " OR ({n}kind = 'EXTENSION' AND {n}credits = 0 AND {n}expires_at IS NOT NULL)",
    ),
    ("quote_request", "quote_credits_range", "{n}credits > 0 AND {n}credits <= 10000000"),
    ("course", "course_price_positive", "{n}price_credits > 0"),
    ("redemption", "redemption_credits_positive", "{n}credits > 0"),
    ("draw", "draw_credits_positive", "{n}credits > 0"),
]

POSTGRES_IMMUTABLE_LEDGER = [
    """
    CREATE OR REPLACE FUNCTION ledger_entry_is_immutable() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'ledger entries are immutable (% refused)', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER ledger_entry_immutable BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_is_immutable()
    """,
]

SQLITE_IMMUTABLE_LEDGER = """
    CREATE TRIGGER ledger_entry_immutable BEFORE UPDATE ON ledger_entry
    BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END
"""


async def _execute(schema_editor: Any, statements: list[str]) -> None:
    for sql in statements:
        await schema_editor.client.execute_script(sql)


async def add_invariants(apps: Any, schema_editor: Any) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect == "postgres":
        statements = [
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" CHECK ({expr.format(n="")})'
            for table, name, expr in CHECKS
        ]
        await _execute(schema_editor, statements + POSTGRES_IMMUTABLE_LEDGER)
        return
    if dialect != "sqlite":
        raise RuntimeError(f"no invariants written for the {dialect} dialect")
    statements = []
    for table, name, expr in CHECKS:
        for event in ("INSERT", "UPDATE"):
            statements.append(
                f'CREATE TRIGGER "{name}_{event.lower()}" BEFORE {event} ON "{table}"'
                f" WHEN NOT ({expr.format(n='NEW.')})"
                f" BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
            )
    await _execute(schema_editor, [*statements, SQLITE_IMMUTABLE_LEDGER])


async def remove_invariants(apps: Any, schema_editor: Any) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect == "postgres":
        statements = [
            f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"' for table, name, _ in CHECKS
        ]
        statements += [
            "DROP TRIGGER ledger_entry_immutable ON ledger_entry",
            "DROP FUNCTION ledger_entry_is_immutable()",
        ]
    else:
        statements = [
            f'DROP TRIGGER "{name}_{event}"' for _, name, _ in CHECKS for event in ("insert", "update")
        ]
        statements.append("DROP TRIGGER ledger_entry_immutable")
    await _execute(schema_editor, statements)


class Migration(migrations.Migration):
    dependencies = [("credits", "0001_initial")]

    operations = [ops.RunPython(add_invariants, remove_invariants)]
