"""After the redeem scenario: did any account spend a credit it did not have?

Checked in SQL on the account's rows. Zero overspend means: the credits of the APPROVED
redemptions equal the credits drawn, the credits taken from the lots (credits -
remaining; nothing expired or was reversed during the run) and the REDEMPTION ledger
entries; no lot and no `balance_after` ever went below zero; and the newest entry's
`balance_after` is what the lots still hold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

FIGURES = """
SELECT
  (SELECT count(*) FROM redemption WHERE account_id = $1 AND status = 'APPROVED') AS approvals,
  (SELECT count(*) FROM redemption WHERE account_id = $1 AND status <> 'APPROVED') AS others,
  (SELECT coalesce(sum(credits), 0) FROM redemption
    WHERE account_id = $1 AND status = 'APPROVED') AS approved,
  (SELECT coalesce(sum(d.credits), 0) FROM draw d
    JOIN redemption r ON r.id = d.redemption_id WHERE r.account_id = $1) AS drawn,
  (SELECT coalesce(sum(credits - remaining), 0) FROM lot WHERE account_id = $1) AS taken,
  (SELECT coalesce(-sum(credits), 0) FROM ledger_entry
    WHERE account_id = $1 AND kind = 'REDEMPTION') AS entries,
  (SELECT min(balance_after) FROM ledger_entry WHERE account_id = $1) AS lowest_balance,
  (SELECT min(remaining) FROM lot WHERE account_id = $1) AS lowest_remaining,
  (SELECT coalesce(sum(remaining), 0) FROM lot WHERE account_id = $1) AS remaining,
  (SELECT balance_after FROM ledger_entry WHERE account_id = $1
    ORDER BY id DESC LIMIT 1) AS last_balance
"""


@dataclass(frozen=True)
class Spending:
    approvals: int
    others: int
    approved: int
    drawn: int
    taken: int
    entries: int
    lowest_balance: int
    lowest_remaining: int
    remaining: int
    last_balance: int
    answered: int  # approvals the clients were told of
    cut_off: int = 0  # requests the load generator may have dropped unanswered

    @property
    def zero_overspend(self) -> bool:
        return (
            self.approved == self.drawn == self.taken == self.entries
            and self.lowest_balance >= 0
            and self.lowest_remaining >= 0
            and self.last_balance == self.remaining
        )

    @property
    def all_answered(self) -> bool:
        """Every approval in the database was answered as approved, and nothing else, but
        for the requests still in flight when the load generator stopped (at most
        `cut_off`): it closes their connections without reading the answer."""
        unanswered = self.approvals - self.answered
        return 0 <= unanswered <= self.cut_off and self.others == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "zero_overspend": self.zero_overspend,
            "all_answered": self.all_answered,
        }


async def spending(
    conn: asyncpg.Connection, account_id: int, answered: int, cut_off: int = 0
) -> Spending:
    row = await conn.fetchrow(FIGURES, account_id)
    figures = {key: int(value) for key, value in row.items()}
    return Spending(**figures, answered=answered, cut_off=cut_off)
