"""Whether the identity provider verified a user's email (issue 10, item 2; decision 14).

Only a verified email is found by email, so that an unverified token cannot take over
an invitation. Users who signed in before this column existed start unverified (the
service used to trust a missing claim): their next verified sign-in sets it, and hands
them any invitation to their address that was made meanwhile.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("credits", "0006_outbox_failures")]

    operations = [
        ops.AddField(
            model_name="User",
            name="email_verified",
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
