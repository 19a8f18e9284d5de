"""The listener's side of the wanted subscriptions (`serbero.wanted_subscriptions`): every few
seconds it reads what workers want, subscribes to what is new or changed, unsubscribes from what
is no longer wanted, and hands matching events to each subscription's target.

An event counts only if it verifies and matches one of its subscription's filters (a relay may
send anything under any id). A target this process does not know is logged, not subscribed.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from nostr_sdk import Event, Filter, ReqTarget

from serbero import clock
from serbero.disputes.events import load_verified_event
from serbero.errors import EventRejected
from serbero.wanted_subscriptions import PREFIX, Wanted, wanted

if TYPE_CHECKING:
    from serbero.listener.listen import Listener

log = logging.getLogger(__name__)

#: The largest event a wanted subscription hands over (a chat envelope with an attachment).
MAX_EVENT_BYTES = 300_000


class WantedSubscriptions:
    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        #: Relay subscription id → what is held under it, and its filters.
        self.held: dict[str, tuple[Wanted, list[Filter]]] = {}
        self._unknown_targets: set[str] = set()

    async def refresh(self) -> tuple[list[str], list[str]]:
        """Match the held subscriptions to the wanted ones; return (added, removed) names.
        A database or relay error is logged and retried at the next refresh."""
        client = self.listener.client
        if client is None:
            return [], []
        try:
            want = {PREFIX + name: row for name, row in wanted(clock.now()).items()}
        except Exception as exc:
            self.listener.database.failed(exc)  # one line per outage, not one per read
            return [], []
        removed = [sid for sid, (row, _) in self.held.items() if want.get(sid) != row]
        added = [sid for sid, row in want.items()
                 if (sid not in self.held or sid in removed) and self._known(row)]
        try:
            for sid in removed:
                await client.unsubscribe(sid)
                del self.held[sid]
                log.info("wanted_subscription_dropped", extra={"subscription": sid})
            for sid in added:
                row = want[sid]
                filters = row.filters()
                await client.subscribe(ReqTarget.auto(filters), id=sid)
                self.held[sid] = (row, filters)
                log.info("wanted_subscription_added", extra={"subscription": sid,
                                                             "target": row.target})
        except Exception:
            log.exception("wanted_subscription_change_failed")
        return added, removed

    def _known(self, row: Wanted) -> bool:
        if row.target in self.listener.targets:
            return True
        if row.name not in self._unknown_targets:
            self._unknown_targets.add(row.name)
            log.error("wanted_subscription_unknown_target", extra={
                "subscription": row.name, "target": row.target[:64]})
        return False

    def handle(self, subscription_id: str, raw: str) -> str:
        """Hand an event of a wanted subscription to its target once."""
        held = self.held.get(subscription_id)
        if held is None:
            return "not_held"  # unsubscribed a moment ago; its worker no longer waits for it
        row, filters = held
        try:
            event = _matching(raw, filters)
        except EventRejected as rejected:
            return self.listener.rejected(rejected, "wanted_event_rejected", "wanted_")
        return self.listener.hand_over(event.id().to_hex(), raw, row.target)


def _matching(raw: str, filters: list[Filter]) -> Event:
    event = load_verified_event(raw, max_bytes=MAX_EVENT_BYTES)
    if not any(f.match_event(event) for f in filters):
        raise EventRejected("filter_mismatch", json.dumps(event.kind().as_u16()))
    return event
