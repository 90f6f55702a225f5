"""The SQL the service sends for each API scenario, as Tortoise writes it, for the baseline.

Captured from the service with the `tortoise.db_client` debug logger (`python -m
bench.api` prints the service's statements again on every run, next to these). Tortoise
orders a model's columns differently in each process; the statements are otherwise the
same text, with the same parameters, so PostgreSQL plans them the same way.
"""

from __future__ import annotations

# Every request: the caller by the token's `sub` (ledger.users.sign_in, ledger.reads.first).
USER_BY_SUB = (
    'SELECT t."id" AS "id", t."sub" AS "sub", t."email" AS "email", '
    't."email_verified" AS "email_verified", t."name" AS "name", t."created_at" AS "created_at" '
    'FROM "user" t  WHERE t.sub = $1 LIMIT 1'
)

# Reads: the caller's own account (ledger.access.own_account).
OWN_ACCOUNT = (
    'SELECT t."id" AS "id", t."name" AS "name", t."approval_mode" AS "approval_mode", '
    't."auto_approve_limit" AS "auto_approve_limit", t."code_hash" AS "code_hash", '
    't."code_ciphertext" AS "code_ciphertext", '
    't."saved_payment_method" AS "saved_payment_method", t."created_at" AS "created_at", '
    't."created_by_id" AS "created_by_id" FROM "account" t '
    'JOIN "ownership" o ON o.account_id = t.id WHERE o.user_id = $1 LIMIT 1'
)

# balance (ledger.balances.balance_of): one hand-written statement for all four figures.
BALANCE = """SELECT COALESCE(SUM(remaining), 0) AS available,
           COALESCE(SUM(CASE WHEN expires_at <= $1 THEN remaining ELSE 0 END), 0) AS soon,
           MIN(expires_at) AS soonest,
           (SELECT COALESCE(SUM(credits), 0) FROM redemption
             WHERE account_id = $2 AND status = 'PENDING') AS pending
    FROM lot WHERE account_id = $3 AND expires_at > $4 AND remaining > 0"""

# lots(first: N) (ledger.history.lot_rows, ledger.reads.page_of): the page and its total.
LOT_PAGE = (
    'SELECT t."id" AS "id", t."credits" AS "credits", t."remaining" AS "remaining", '
    't."purchased_at" AS "purchased_at", t."expires_at" AS "expires_at", '
    't."created_at" AS "created_at", t."account_id" AS "account_id", '
    't."purchase_id" AS "purchase_id", '
    '(SELECT count(*) FROM "lot" t WHERE t.account_id = $1) AS "__total" '
    'FROM "lot" t WHERE t.account_id = $2 ORDER BY t.id DESC LIMIT $3'
)

# redemptions(first: N) with course and learner joined (ledger.redemptions.redemption_rows)
REDEMPTION_PAGE_JOINED = (
    'SELECT t."id" AS "id", t."credits" AS "credits", t."status" AS "status", '
    't."requested_at" AS "requested_at", t."decided_at" AS "decided_at", '
    't."reason" AS "reason", t."account_id" AS "account_id", t."course_id" AS "course_id", '
    't."decided_by_id" AS "decided_by_id", t."learner_id" AS "learner_id", '
    'c."id" AS "course__id", c."sku" AS "course__sku", c."title" AS "course__title", '
    'c."price_credits" AS "course__price_credits", c."active" AS "course__active", '
    'c."created_at" AS "course__created_at", c."updated_at" AS "course__updated_at", '
    'l."id" AS "learner__id", l."sub" AS "learner__sub", l."email" AS "learner__email", '
    'l."email_verified" AS "learner__email_verified", l."name" AS "learner__name", '
    'l."created_at" AS "learner__created_at", '
    '(SELECT count(*) FROM "redemption" t WHERE t.account_id = $1) AS "__total" '
    'FROM "redemption" t JOIN "course" c ON c.id = t.course_id '
    'JOIN "user" l ON l.id = t.learner_id WHERE t.account_id = $2 ORDER BY t.id DESC LIMIT $3'
)
# The redemption's own statements (below) name these columns as the ORM writes them.
LOT_COLUMNS = (
    '"id","account_id","purchase_id","credits","remaining","purchased_at","expires_at","created_at"'
)
REDEMPTION_COLUMNS = (
    '"id","account_id","learner_id","course_id","credits","status","requested_at",'
    '"decided_at","decided_by_id","reason"'
)
COURSE_COLUMNS = '"id","sku","title","price_credits","active","created_at","updated_at"'


# redeemCredits (ledger.redemptions.redeem_credits) on PostgreSQL since issue 14: the
# stored answer for the key, the account by code and the course in one statement; then
# `credits_redeem` (migration 0008): the key's claim, the account lock, the decision and
# every write, one statement that is its own transaction. REDEMPTION_BY_ID (below) only
# for a replayed key.
REDEEM_LOOK_UP = (
    'SELECT i."id" AS "i__id", i."operation" AS "i__operation", i."key" AS "i__key", '
    'i."request_hash" AS "i__request_hash", i."response" AS "i__response", '
    'i."created_at" AS "i__created_at", i."user_id" AS "i__user_id", a."id" AS "a__id", '
    'a."name" AS "a__name", a."approval_mode" AS "a__approval_mode", '
    'a."auto_approve_limit" AS "a__auto_approve_limit", a."code_hash" AS "a__code_hash", '
    'a."code_ciphertext" AS "a__code_ciphertext", '
    'a."saved_payment_method" AS "a__saved_payment_method", '
    'a."created_at" AS "a__created_at", a."created_by_id" AS "a__created_by_id", '
    'c."id" AS "c__id", c."sku" AS "c__sku", c."title" AS "c__title", '
    'c."price_credits" AS "c__price_credits", c."active" AS "c__active", '
    'c."created_at" AS "c__created_at", c."updated_at" AS "c__updated_at" '
    "FROM (SELECT 1) AS one "
    'LEFT JOIN "idempotency_record" i   ON i.user_id = $1 AND i.operation = $2 AND i.key = $3 '
    'LEFT JOIN "account" a ON a.code_hash = $4 LEFT JOIN "course" c ON c.id = $5'
)
REDEEM_CALL = "SELECT * FROM credits_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"


# The old statements (before issue 14; bench.baseline's /redeem-old), kept to measure the
# baseline as it was: the stored answer for the key (IDEMPOTENCY_BY_KEY), the account by
# code, the course, then the transaction below; the answer is built from the row it
# inserted.
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
    '"delivered_at","attempts","last_attempt_at","last_error","failed_at","stale_at") '
    'VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING "id"'
)
STORE_RESPONSE = 'UPDATE "idempotency_record" SET "response"=$1 WHERE "id"=$2'
# -- COMMIT
REDEMPTION_BY_ID = f'SELECT {REDEMPTION_COLUMNS} FROM "redemption" WHERE "id"=$1 LIMIT $2'
