"""At most one invited (not yet signed-in) user per email.

Two owners inviting the same address at once must not create two people. The same
partial unique index works on PostgreSQL and SQLite.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("credits", "0002_invariants")]

    operations = [
        ops.RunSQL(
            'CREATE UNIQUE INDEX "user_one_invitation_per_email" ON "user" ("email")'
            ' WHERE "sub" IS NULL',
            reverse_sql='DROP INDEX "user_one_invitation_per_email"',
        )
    ]
