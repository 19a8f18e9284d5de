"""Manual escalation in the domain: validation first, the operator's note and name in the audit
row, the note's hash in the evidence, `to` pinning the recipients, and repeats."""

import hashlib

import pytest
from nostr_sdk import PublicKey

from serbero.db.models import AuditEvent, Outbox
from serbero.errors import NotFound
from serbero.escalation import manual, scan
from serbero.escalation.manual import EscalationRefused
from serbero.escalation.models import EscalationHandoff
from tests.escalation.conftest import NOW


@pytest.fixture(autouse=True)
def on_each_backend(backend, db):
    """Every test here runs on SQLite and on PostgreSQL."""


def written():
    return AuditEvent.select().count(), EscalationHandoff.select().count()


def test_an_unknown_dispute_is_refused_and_nothing_is_written(db, esc_settings):
    with pytest.raises(NotFound, match="no dispute with id 'nope'"):
        manual.escalate("nope", settings=esc_settings(), operator="olga", now=NOW)
    assert written() == (0, 0)


def test_a_resolved_dispute_is_refused_and_nothing_is_written(make_dispute, esc_settings):
    d = make_dispute(state="resolved", dispute_status="settled")
    with pytest.raises(EscalationRefused, match=r"already resolved \(Mostro status settled\)"):
        manual.escalate(d.dispute_id, settings=esc_settings(), operator="olga", now=NOW)
    assert written() == (0, 0)


def test_a_malformed_recipient_is_refused_before_anything_is_read(make_dispute, esc_settings):
    d = make_dispute()
    with pytest.raises(ValueError, match="invalid public key"):
        manual.escalate(d.dispute_id, settings=esc_settings(), operator="olga", now=NOW,
                        to=["npub1nope"])
    assert written() == (0, 0)


def test_serberos_own_key_is_refused_as_a_recipient(make_dispute, esc_settings, signer):
    # issue 11: a DM to itself would be read back as a Mostro reply
    d = make_dispute()
    with pytest.raises(EscalationRefused, match="Serbero's own key"):
        manual.escalate(d.dispute_id, settings=esc_settings(), operator="olga", now=NOW,
                        to=[signer.public_key().to_bech32()])
    assert written() == (0, 0)


def test_the_note_stays_in_the_audit_row_and_its_hash_travels(make_dispute, esc_settings, ana):
    d = make_dispute()
    note = "Buyer sent a bank receipt; seller silent for 2 days"
    result = manual.escalate(d.dispute_id, settings=esc_settings(solvers=[ana.write()]),
                             operator="olga", now=NOW, note=note)
    recommended = AuditEvent.get(AuditEvent.kind == "escalation_recommended")
    digest = hashlib.sha256(note.encode()).hexdigest()
    assert recommended.payload == {"dispute_id": d.dispute_id, "trigger": "manual",
                                   "evidence_refs": [f"note:sha256:{digest}"],
                                   "rationale_refs": [], "requested_by": "olga", "note": note}
    handoff_json = AuditEvent.get_by_id(result.prepared.handoff_id).payload_json
    assert f'"evidence_refs":["note:sha256:{digest}"]' in handoff_json
    assert "receipt" not in handoff_json
    assert EscalationHandoff.get_by_id(result.prepared.handoff_id).requested_by == "olga"
    assert (result.route.kind, result.route.recipients) == ("broadcast", (ana.pubkey,))


def test_named_recipients_override_the_routing_and_are_pinned(make_dispute, esc_settings,
                                                              signer, ana, bo):
    d = make_dispute()
    settings = esc_settings(solvers=[ana.write()])
    npub = PublicKey.parse(bo.pubkey).to_bech32()
    result = manual.escalate(d.dispute_id, settings=settings, operator="olga", now=NOW,
                             to=[npub], force=True)
    assert (result.route.kind, result.route.recipients) == ("manual", (bo.pubkey,))
    ids = scan.dispatch_due(NOW, settings=settings, signer=signer).outbox_ids
    assert [Outbox.get_by_id(i).recipient for i in ids] == [bo.pubkey]


def test_to_refuses_serberos_own_key_and_unconfigured_keys_unless_forced(
        make_dispute, esc_settings, ana, bo):
    # issue 10: a handoff sent to Serbero itself, or to a mistyped key, reaches nobody
    d = make_dispute()
    settings = esc_settings(solvers=[ana.write()])
    with pytest.raises(EscalationRefused, match="is Serbero's own key"):
        manual.escalate(d.dispute_id, settings=settings, operator="olga", now=NOW,
                        to=[settings.serbero_pubkey], force=True)
    with pytest.raises(EscalationRefused, match=r"is not a configured solver.*--force"):
        manual.escalate(d.dispute_id, settings=settings, operator="olga", now=NOW,
                        to=[ana.pubkey, bo.pubkey])
    assert written() == (0, 0)
    assert manual.escalate(d.dispute_id, settings=settings, operator="olga", now=NOW,
                           to=[ana.pubkey]).prepared.created


def test_a_repeat_returns_the_first_handoff_and_who_got_it(make_dispute, esc_settings, signer,
                                                         ana):
    d = make_dispute()
    settings = esc_settings(solvers=[ana.write()])
    first = manual.escalate(d.dispute_id, settings=settings, operator="olga", now=NOW)
    scan.dispatch_due(NOW, settings=settings, signer=signer)
    before = written()
    repeat = manual.escalate(d.dispute_id, settings=settings, operator="olga", now=NOW + 1,
                             note="again?")
    assert written() == before
    assert (repeat.prepared.handoff_id, repeat.prepared.created, repeat.prepared.status) == \
        (first.prepared.handoff_id, False, "sending")
    assert repeat.route.recipients == (ana.pubkey,)
    again = manual.escalate(d.dispute_id, settings=settings, operator="olga", now=NOW + 2,
                            again=True)
    assert again.prepared.created
    recommended = EscalationHandoff.get_by_id(again.prepared.handoff_id).recommended_event_id
    assert AuditEvent.get_by_id(recommended).payload["again"] is True


def test_an_overlong_note_is_refused(make_dispute, esc_settings):
    d = make_dispute()
    with pytest.raises(EscalationRefused, match="2001 characters"):
        manual.escalate(d.dispute_id, settings=esc_settings(), operator="olga", now=NOW,
                        note="x" * 2001)
    assert written() == (0, 0)
