"""Outbox message kinds and their payloads (ids only; the mailer loads the rows).

| kind                  | payload                                   |
|-----------------------|-------------------------------------------|
| purchase_paid         | account_id, purchase_id                   |
| owner_added           | account_id, user_id, added_by_id          |
| code_rotated          | account_id, actor_id                      |
| redemption_requested  | redemption_id   (PENDING: every owner)    |
| redemption_approved   | redemption_id   (learner + all owners)    |
| redemption_denied     | redemption_id   (learner)                 |
| redemption_cancelled  | redemption_id   (all owners)              |
| redemption_reversed   | redemption_id, reason (learner + owners)  |
| quote_requested       | quote_id        (support mailbox)         |
| lot_extended          | lot_id, entry_id (all owners)             |
| credits_expiring      | account_id, threshold_days, lot_ids       |
| credits_expired       | account_id, entry_ids                     |
"""

PURCHASE_PAID = "purchase_paid"
OWNER_ADDED = "owner_added"
CODE_ROTATED = "code_rotated"
REDEMPTION_REQUESTED = "redemption_requested"
REDEMPTION_APPROVED = "redemption_approved"
REDEMPTION_DENIED = "redemption_denied"
REDEMPTION_CANCELLED = "redemption_cancelled"
REDEMPTION_REVERSED = "redemption_reversed"
QUOTE_REQUESTED = "quote_requested"
LOT_EXTENDED = "lot_extended"
CREDITS_EXPIRING = "credits_expiring"
CREDITS_EXPIRED = "credits_expired"
