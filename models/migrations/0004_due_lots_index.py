"""An index over lots that still have credits, in expiry order, for the expiry job.

Partial (`WHERE remaining > 0`): spent and expired lots drop out of it, so the nightly
job's cost follows the lots that are due, not all lots ever sold. Same SQL on both.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("credits", "0003_one_invitation_per_email")]

    operations = [
        ops.RunSQL(
            'CREATE INDEX "lot_due_for_expiry" ON "lot" ("expires_at", "id") WHERE remaining > 0',
            reverse_sql='DROP INDEX "lot_due_for_expiry"',
        )
    ]
