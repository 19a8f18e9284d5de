"""The Mostro node's announcements: its kind-38385 info event (protocol version, proof of work,
the `serbero` key it trusts) and kind-10002 relay list, and the profile Serbero derives from
them and its configuration: which transport to speak, how much work to mine, and whether it may
take disputes at all.

A node that names another `serbero` key is loud: the profile refuses every take, and each
delivery of such an info event logs an error (`warn_if_foreign`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from nostr_sdk import Client, Event, Filter, Kind, PublicKey, ReqTarget

from serbero.config import Settings
from serbero.disputes.events import load_verified_event
from serbero.errors import EventRejected
from serbero.mostro import protocols
from serbero.mostro.models import NodeInfoRow
from serbero.nostr.keys import parse_public_key

log = logging.getLogger(__name__)

INFO_KIND = 38385
RELAY_LIST_KIND = 10002
#: Proof of work above this many bits is refused unless configured: 20 bits is ~1 s of mining
#: on one core (24 bits, ~16 s, would outlive mostrod's 10 s freshness window).
DEFAULT_MAX_POW_BITS = 20
#: Serbero-key check outcomes; only OURS and ABSENT allow taking disputes.
OURS, ABSENT, FOREIGN, MALFORMED = "ours", "absent", "foreign", "malformed"
AUTO = "auto"


@dataclass(frozen=True)
class NodeInfo:
    node_pubkey: str
    event_id: str
    created_at: int
    protocol_version: int | None
    pow: int | None
    #: None means unknown (the tag is absent), not zero.
    pow_first_contact: int | None
    mostro_version: str | None
    #: The `serbero` tag verbatim (mostrod 0.19.x), or None when the node announces none.
    serbero_tag: str | None
    bond_enabled: bool | None = None

    @property
    def transport(self) -> str:
        """The version `protocol_version` announces; absent or unknown means the first."""
        return protocols.announced(self.protocol_version).name

    def serbero_status(self, serbero_pubkey: str) -> str:
        if self.serbero_tag is None:
            return ABSENT
        try:
            announced = parse_public_key(self.serbero_tag)
        except ValueError:
            return MALFORMED
        return OURS if announced == serbero_pubkey else FOREIGN


def _small_int(value: str | None) -> int | None:
    """A decimal 0..255 (NIP-13 difficulties, protocol versions); anything else is unknown."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 3:
        return None
    number = int(value)
    return number if number <= 255 else None


def _tag_values(event: Event) -> dict[str, str]:
    values: dict[str, str] = {}
    for tag in (t.to_vec() for t in event.tags()):
        if len(tag) >= 2 and tag[0] not in values:
            values[tag[0]] = tag[1][:256]
    return values


def parse_info_event(raw: str, *, node_pubkey: str) -> NodeInfo:
    """A verified kind-38385 event of `node_pubkey` about itself (`d` = its pubkey), or
    EventRejected: other apps publish unrelated events on this kind."""
    event = load_verified_event(raw)
    if event.kind().as_u16() != INFO_KIND:
        raise EventRejected("wrong_kind", str(event.kind().as_u16()))
    if event.author().to_hex() != node_pubkey:
        raise EventRejected("wrong_author", event.author().to_hex())
    tags = _tag_values(event)
    if tags.get("d") != node_pubkey:
        raise EventRejected("not_node_info", "d tag is not the node's pubkey")
    if tags.get("z", "info") != "info":
        raise EventRejected("not_node_info", f"z tag is {tags['z'][:32]!r}")
    bond = tags.get("bond_enabled")
    return NodeInfo(
        node_pubkey=node_pubkey, event_id=event.id().to_hex(),
        created_at=event.created_at().as_secs(),
        protocol_version=_small_int(tags.get("protocol_version")),
        pow=_small_int(tags.get("pow")),
        pow_first_contact=_small_int(tags.get("pow_first_contact")),
        mostro_version=tags.get("mostro_version"), serbero_tag=tags.get("serbero"),
        bond_enabled=None if bond is None else bond.lower() == "true")


def parse_relay_list(raw: str, *, node_pubkey: str) -> tuple[str, ...]:
    """The relay URLs of the node's NIP-65 list (kind 10002, `r` tags)."""
    event = load_verified_event(raw)
    if event.kind().as_u16() != RELAY_LIST_KIND or event.author().to_hex() != node_pubkey:
        raise EventRejected("not_relay_list", "wrong kind or author")
    urls = [t.to_vec()[1] for t in event.tags() if t.kind() == "r" and len(t.to_vec()) >= 2]
    return tuple(u for u in urls if u.startswith(("wss://", "ws://")))


@dataclass(frozen=True)
class NodeProfile:
    """How Serbero talks to the node, and whether it may take disputes (`refusal` says why not)."""

    transport: str
    pow_bits: int
    serbero_status: str
    refusal: str | None
    transport_source: str

    @property
    def can_take(self) -> bool:
        return self.refusal is None


def resolve(info: NodeInfo | None, *, serbero_pubkey: str, transport: str = AUTO,
            pow_bits: int = -1, max_pow_bits: int = DEFAULT_MAX_POW_BITS) -> NodeProfile:
    """The profile from the announcement and the operator's overrides (`transport` v1/v2,
    `pow_bits` ≥ 0). A take is a first contact, so it is mined to the higher difficulty."""
    status = info.serbero_status(serbero_pubkey) if info else ABSENT
    if transport in protocols.names():
        chosen, source = transport, "config"
    elif info is not None:
        chosen, source = info.transport, "announced"
    else:
        chosen, source = protocols.latest().name, "unknown"
    if pow_bits >= 0:
        bits = pow_bits
    elif info is not None:
        bits = max(info.pow or 0, info.pow_first_contact or 0)
    else:
        bits = 0
    refusal = None
    if status in (FOREIGN, MALFORMED):
        refusal = "foreign_serbero_key"
    elif source == "unknown":
        refusal = "node_info_unknown"
    elif bits > max_pow_bits:
        refusal = "pow_too_high"
    return NodeProfile(chosen, bits, status, refusal, source)


def profile_for(settings: Settings, node: NodeInfo | None) -> NodeProfile:
    """`resolve` with the `[mostro]` overrides of the configuration."""
    return resolve(node, serbero_pubkey=settings.serbero_pubkey,
                   transport=settings.mostro.transport, pow_bits=settings.mostro.pow_bits,
                   max_pow_bits=settings.mostro.max_pow_bits)


def current_profile(settings: Settings) -> NodeProfile:
    """The profile from the stored info event of the configured node: what a take uses."""
    return profile_for(settings, load(settings.mostro_pubkey))


def record(info: NodeInfo, *, now: int) -> bool:
    """Store an info event if it is newer than the stored one; True when it was. Callers warn
    with `warn_if_foreign`, every time they see the event, not only when it is new."""
    row = dict(event_id=info.event_id, created_at=info.created_at,
               protocol_version=info.protocol_version, pow=info.pow,
               pow_first_contact=info.pow_first_contact, mostro_version=info.mostro_version,
               serbero_tag=info.serbero_tag, recorded_at=now)
    inserted = (NodeInfoRow.insert(node_pubkey=info.node_pubkey, **row)
                .on_conflict_ignore().as_rowcount().execute()) == 1
    updated = inserted or (NodeInfoRow.update(**row)
                           .where((NodeInfoRow.node_pubkey == info.node_pubkey)
                                  & (NodeInfoRow.created_at < info.created_at)).execute()) == 1
    if updated:
        log.info("mostro_node_info_recorded", extra={
            "event_id": info.event_id, "protocol_version": info.protocol_version,
            "pow": info.pow, "pow_first_contact": info.pow_first_contact})
    return updated


def warn_if_foreign(info: NodeInfo, serbero_pubkey: str) -> str:
    """Log loudly when the node trusts another Serbero; return the check's outcome."""
    status = info.serbero_status(serbero_pubkey)
    if status in (FOREIGN, MALFORMED):
        log.error("mostro_serbero_key_mismatch: the Mostro node announces another Serbero key; "
                  "mediation will not take disputes until the keys match", extra={
                      "announced": info.serbero_tag, "ours": serbero_pubkey, "status": status})
    return status


def load(node_pubkey: str) -> NodeInfo | None:
    """The stored info of a node, if any was recorded."""
    row = NodeInfoRow.get_or_none(NodeInfoRow.node_pubkey == node_pubkey)
    if row is None:
        return None
    return NodeInfo(node_pubkey=row.node_pubkey, event_id=row.event_id, created_at=row.created_at,
                    protocol_version=row.protocol_version, pow=row.pow,
                    pow_first_contact=row.pow_first_contact, mostro_version=row.mostro_version,
                    serbero_tag=row.serbero_tag)


def info_filter(node_pubkey: str) -> Filter:
    return (Filter().kind(Kind(INFO_KIND)).author(PublicKey.parse(node_pubkey))
            .identifier(node_pubkey))


async def fetch(client: Client, node_pubkey: str, *,
                timeout_s: float = 5) -> tuple[NodeInfo | None, tuple[str, ...]]:
    """The node's newest valid info event and its relay list, as the connected relays have them."""
    events = await client.fetch_events(
        ReqTarget.auto([info_filter(node_pubkey),
                        Filter().kind(Kind(RELAY_LIST_KIND)).author(PublicKey.parse(node_pubkey))]),
        timeout=timedelta(seconds=timeout_s))
    infos: list[NodeInfo] = []
    relay_lists: list[tuple[int, tuple[str, ...]]] = []
    for event in events:
        raw = event.as_json()
        try:
            if event.kind().as_u16() == INFO_KIND:
                infos.append(parse_info_event(raw, node_pubkey=node_pubkey))
            else:
                relay_lists.append((event.created_at().as_secs(),
                                    parse_relay_list(raw, node_pubkey=node_pubkey)))
        except EventRejected as rejected:
            log.warning("mostro_node_event_rejected", extra={"reason": rejected.reason})
    newest = max(infos, key=lambda i: i.created_at, default=None)
    relays = max(relay_lists, default=(0, ()))[1]
    return newest, relays
