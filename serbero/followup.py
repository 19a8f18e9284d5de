"""The one shape every entry point returns: what is left to do once its transaction has
committed. Rows to publish now (each with the lane that publishes it) and jobs to run later
(each with the token or key that makes a stale one a no-op).

Entry points return a FollowUp (or a result that is one, adding its own facts); one function
in `serbero_workers/` turns it into messages, so actors stay a line or two and no policy leaks
there.
Never enqueue inside a transaction: the caller commits first (STYLE habit 7).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: Lanes: which queue publishes a row. A row's purpose names its lane.
NOTIFY, ESCALATION, WEBHOOKS = "notify", "escalation", "webhooks"
#: Mediation's messages (to the parties, and its DMs to solvers) go out on `mediation`, so a
#: busy session never delays a new-dispute notice.
MEDIATION = "mediation"


@dataclass(frozen=True)
class Publish:
    """An outbox row to publish after commit, and the lane that publishes it."""

    row_id: int
    lane: str = NOTIFY


@dataclass(frozen=True)
class Later:
    """A job to run at `at` (Unix seconds): `job` names it, `args` are natural keys and the
    token that lets only this job act."""

    job: str
    at: int
    args: tuple[int | str, ...] = ()


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True)
class FollowUp:
    """What an entry point leaves to do after commit. `signed` holds, by message id, events
    the entry point signed and still has in memory, so publishing need not parse them again."""

    publish: tuple[Publish, ...] = ()
    later: tuple[Later, ...] = ()
    signed: Mapping[str, Any] = field(default_factory=dict)

    @property
    def outbox_ids(self) -> tuple[int, ...]:
        return tuple(p.row_id for p in self.publish)

    def parts(self) -> dict[str, Any]:
        """The follow-up's own fields, to build a result that is one: `Result(**fu.parts())`."""
        return {"publish": self.publish, "later": self.later, "signed": self.signed}

    def then(self, *others: FollowUp | None) -> FollowUp:
        """This follow-up and the others, as one plain FollowUp."""
        parts = [self, *(o for o in others if o is not None)]
        signed: dict[str, Any] = {}
        for part in parts:
            signed.update(part.signed)
        return FollowUp(publish=tuple(p for part in parts for p in part.publish),
                        later=tuple(j for part in parts for j in part.later),
                        signed=_frozen(signed))


NOTHING = FollowUp()


def combine(parts: Iterable[FollowUp | None]) -> FollowUp:
    """Every follow-up of a batch (a scan over many rows), as one."""
    return NOTHING.then(*parts)
