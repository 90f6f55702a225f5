"""The SQL the service sends for each API scenario, as Tortoise writes it, for the baseline.

Captured from the service with the `tortoise.db_client` debug logger (`python -m
bench.api` prints the service's statements again on every run, next to these). Tortoise
orders a model's columns differently in each process; the statements are otherwise the
same text, with the same parameters, so PostgreSQL plans them the same way.
"""

from __future__ import annotations

# Every request: the caller by the token's `sub` (ledger.users.sign_in).
USER_BY_SUB = 'SELECT "id","sub","created_at","email","name" FROM "user" WHERE "sub"=$1 LIMIT $2'

# Reads: the caller's own account (ledger.access.account_for, select_related).
OWN_ACCOUNT = (
    'SELECT "ownership"."id","ownership"."added_by_id","ownership"."user_id",'
    '"ownership"."account_id","ownership"."created_at",'
    '"ownership__account"."id" "ownership__account.id",'
    '"ownership__account"."code_ciphertext" "ownership__account.code_ciphertext",'
    '"ownership__account"."auto_approve_limit" "ownership__account.auto_approve_limit",'
    '"ownership__account"."created_at" "ownership__account.created_at",'
    '"ownership__account"."name" "ownership__account.name",'
    '"ownership__account"."created_by_id" "ownership__account.created_by_id",'
    '"ownership__account"."approval_mode" "ownership__account.approval_mode",'
    '"ownership__account"."saved_payment_method" "ownership__account.saved_payment_method",'
    '"ownership__account"."code_hash" "ownership__account.code_hash" '
    'FROM "ownership" LEFT OUTER JOIN "account" "ownership__account" '
    'ON "ownership__account"."id"="ownership"."account_id" '
    'WHERE "ownership"."user_id"=$1 LIMIT $2'
)

# balance (ledger.balances.balance_of): one hand-written statement for all four figures.
BALANCE = """SELECT COALESCE(SUM(remaining), 0) AS available,
           COALESCE(SUM(CASE WHEN expires_at <= $1 THEN remaining ELSE 0 END), 0) AS soon,
           MIN(expires_at) AS soonest,
           (SELECT COALESCE(SUM(credits), 0) FROM redemption
             WHERE account_id = $2 AND status = 'PENDING') AS pending
    FROM lot WHERE account_id = $3 AND expires_at > $4 AND remaining > 0"""

# lots(first: N) (ledger.history.list_lots, ledger.pages.newest_first)
LOT_COLUMNS = (
    '"id","account_id","purchase_id","credits","remaining","purchased_at","expires_at","created_at"'
)
LOT_COUNT = 'SELECT COUNT(*) FROM "lot" WHERE "account_id"=$1'
LOT_PAGE = f'SELECT {LOT_COLUMNS} FROM "lot" WHERE "account_id"=$1 ORDER BY "id" DESC LIMIT $2'

# redemptions(first: N) with course and learner (joined: ledger.redemptions.LISTED_WITH)
REDEMPTION_COLUMNS = (
    '"id","account_id","learner_id","course_id","credits","status","requested_at",'
    '"decided_at","decided_by_id","reason"'
)
REDEMPTION_COUNT = 'SELECT COUNT(*) FROM "redemption" WHERE "account_id"=$1'
REDEMPTION_PAGE_JOINED = (
    'SELECT "redemption"."id","redemption"."account_id","redemption"."learner_id",'
    '"redemption"."course_id","redemption"."credits","redemption"."status",'
    '"redemption"."requested_at","redemption"."decided_at","redemption"."decided_by_id",'
    '"redemption"."reason",'
    '"redemption__learner"."id" "redemption__learner.id",'
    '"redemption__learner"."sub" "redemption__learner.sub",'
    '"redemption__learner"."created_at" "redemption__learner.created_at",'
    '"redemption__learner"."email" "redemption__learner.email",'
    '"redemption__learner"."name" "redemption__learner.name",'
    '"redemption__course"."id" "redemption__course.id",'
    '"redemption__course"."sku" "redemption__course.sku",'
    '"redemption__course"."title" "redemption__course.title",'
    '"redemption__course"."price_credits" "redemption__course.price_credits",'
    '"redemption__course"."active" "redemption__course.active",'
    '"redemption__course"."created_at" "redemption__course.created_at",'
    '"redemption__course"."updated_at" "redemption__course.updated_at" '
    'FROM "redemption" LEFT OUTER JOIN "user" "redemption__learner" '
    'ON "redemption__learner"."id"="redemption"."learner_id" '
    'LEFT OUTER JOIN "course" "redemption__course" '
    'ON "redemption__course"."id"="redemption"."course_id" '
    'WHERE "redemption"."account_id"=$1 ORDER BY "redemption"."id" DESC LIMIT $2'
)
COURSE_COLUMNS = '"id","sku","title","price_credits","active","created_at","updated_at"'


# redeemCredits (ledger.redemptions.redeem_credits): the stored answer for the key
# (IDEMPOTENCY_BY_KEY), the account by code, the course, then the transaction below; the
# answer is built from the row it inserted (REDEMPTION_BY_ID only for a replayed key).
ACCOUNT_COLUMNS = (
    '"id","name","approval_mode","auto_approve_limit","code_hash","code_ciphertext",'
    '"saved_payment_method","created_by_id","created_at"'
)
ACCOUNT_BY_CODE = f'SELECT {ACCOUNT_COLUMNS} FROM "account" WHERE "code_hash"=$1 LIMIT $2'
COURSE_BY_ID = f'SELECT {COURSE_COLUMNS} FROM "course" WHERE "id"=$1 LIMIT $2'
IDEMPOTENCY_BY_KEY = (
    'SELECT "id","user_id","operation","key","request_hash","response","created_at" '
    'FROM "idempotency_record" WHERE "user_id"=$1 AND "operation"=$2 AND "key"=$3 LIMIT $4'
)
# -- BEGIN
INSERT_IDEMPOTENCY = (
    'INSERT INTO "idempotency_record" ("operation","key","request_hash","response",'
    '"created_at","user_id") VALUES ($1,$2,$3,$4,$5,$6) RETURNING "id"'
)
LOCK_ACCOUNT = f'SELECT {ACCOUNT_COLUMNS} FROM "account" WHERE "id"=$1 LIMIT $2 FOR NO KEY UPDATE'
INSERT_REDEMPTION = (
    'INSERT INTO "redemption" ("credits","status","requested_at","decided_at","reason",'
    '"account_id","course_id","decided_by_id","learner_id") '
    'VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING "id"'
)
LOCK_LOTS = (
    f'SELECT {LOT_COLUMNS} FROM "lot" WHERE "account_id"=$1 AND "expires_at">$2 '
    'AND "remaining">$3 ORDER BY "expires_at" ASC,"purchased_at" ASC,"id" ASC FOR UPDATE'
)
TAKE_FROM_LOT = (
    'UPDATE "lot" SET "remaining"="remaining"-$1 '
    'WHERE "id"=$2 AND "remaining">=$3 AND "expires_at">$4'
)
INSERT_DRAW = (
    'INSERT INTO "draw" ("credits","lot_id","redemption_id") VALUES ($1,$2,$3) RETURNING "id"'
)
INSERT_ENTRY = (
    'INSERT INTO "ledger_entry" ("kind","credits","balance_after","reason","reference",'
    '"expires_at","created_at","account_id","actor_id","lot_id","purchase_id",'
    '"redemption_id") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING "id"'
)
INSERT_OUTBOX = (
    'INSERT INTO "outbox_message" ("kind","payload","created_at","dispatched_at",'
    '"delivered_at","attempts","last_error") VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING "id"'
)
STORE_RESPONSE = 'UPDATE "idempotency_record" SET "response"=$1 WHERE "id"=$2'
# -- COMMIT
REDEMPTION_BY_ID = f'SELECT {REDEMPTION_COLUMNS} FROM "redemption" WHERE "id"=$1 LIMIT $2'
