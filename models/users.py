from tortoise import fields
from tortoise.models import Model

from models import limits


class User(Model):
    """A person, identified by the identity provider's `sub`.

    An invited owner exists before their first sign-in with `sub` NULL; the first
    sign-in with that email, verified, links the `sub`. Emails are stored lower-cased; at
    most one invited user per email (a partial unique index, migration 0003).
    `email_verified`: the identity provider said this user holds `email`; only such a
    user is found by email (an invitation's own value means nothing).
    """

    id = fields.IntField(primary_key=True)
    sub = fields.CharField(max_length=limits.USER_SUB, null=True, unique=True)
    email = fields.CharField(max_length=limits.EMAIL, db_index=True)
    email_verified = fields.BooleanField(default=False, db_default=False)
    name = fields.CharField(max_length=limits.USER_NAME, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "user"

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
