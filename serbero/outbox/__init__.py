"""The outbox: one writer for every side effect (`rows.write`), channels that send stored rows
(`nostr`, `webhook`), and purposes that register what each row's outcome changes. This package
imports no domain: purposes are found through `purposes.MODULES`.

Every row is written in the transaction of the state change that decided it, then sent after
commit; the outbox tick re-sends what a lost job or a failed attempt left pending.
"""

from serbero.outbox.publish import (
    CANCELLED,
    FAILED,
    PENDING,
    SENT,
    Published,
    cancel,
    claim_due,
    publish,
    publish_many,
    retry_delay_s,
)
from serbero.outbox.rows import NOSTR, WEBHOOK, NewRow, write

__all__ = ["CANCELLED", "FAILED", "NOSTR", "PENDING", "SENT", "WEBHOOK", "NewRow", "Published",
           "cancel", "claim_due", "publish", "publish_many", "retry_delay_s", "write"]
