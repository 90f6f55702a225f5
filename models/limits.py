"""The length limit of each text, in characters: one constant for the column and for the check.

Model fields use these as `max_length`, and the checks of what clients send (ledger.text,
auth) use the same constants, so a valid input always fits its column. A limit that
names a CharField is also in a migration: change both together. Limits of TextFields
(reasons, messages) are the API's only.
"""

ACCOUNT_NAME = 200
USER_NAME = 200  # from the token's `name` claim
USER_SUB = 255  # the token's `sub` claim
EMAIL = 320  # RFC 3696's 64 + 1 + 255
COURSE_SKU = 64
COURSE_TITLE = 300
PROMO_CODE = 64
INVOICE_NUMBER = 100
PAYMENT_REFERENCE = 255  # a gateway's reference, an invoice number or a saved card
IDEMPOTENCY_KEY = 255
REASON = 1000  # why support acted, or why an owner denied or cancelled
QUOTE_MESSAGE = 2000
SEARCH = 200

# Columns no client writes directly.
ENUM_NAME = 16  # the longest stored enum name
DIGEST = 64  # a SHA-256 or HMAC-SHA-256, in hex
KIND_NAME = 64  # an outbox kind, an audit action, an operation or a lease name
LEASE_HOLDER = 128

WEBHOOK_URL = 2048
WEBHOOK_DESCRIPTION = 500
WEBHOOK_EVENT_ID = 40  # `evt_` and 32 hex digits
