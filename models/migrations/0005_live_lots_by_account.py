"""An index over each account's lots that still have credits, by expiry.

Partial (`WHERE remaining > 0`), like 0004: the expiry job finds an account's due lots
and the balance sums an account's live lots without visiting the spent and expired
lots that pile up over the years. Same SQL on both databases.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("credits", "0004_due_lots_index")]

    operations = [
        ops.RunSQL(
            'CREATE INDEX "lot_live_by_account" ON "lot" ("account_id", "expires_at")'
            " WHERE remaining > 0",
            reverse_sql='DROP INDEX "lot_live_by_account"',
        )
    ]
