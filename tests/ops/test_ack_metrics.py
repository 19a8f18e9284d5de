"""Metrics of acknowledgements and tiers, on SQLite and PostgreSQL: MTTA and MTTR histograms
that match seeded disputes, acknowledgements by solver and source, and the tier reached."""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from serbero.acks.models import SolverAcknowledgement
from serbero.db.models import Dispute
from serbero.ops.prometheus import SerberoCollector
from serbero.tiers.models import NotificationTier
from tests.ops.conftest import seed_dispute

ANA, BO = "a" * 64, "b" * 64
T = 1_800_000_000


def scrape(settings):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SerberoCollector(settings, (), alive_within_s=30))
    return {(s.name, frozenset(s.labels.items())): s.value for family in
            text_string_to_metric_families(generate_latest(registry).decode())
            for s in family.samples}


def test_mtta_mttr_acknowledgements_and_tiers_reached_match_the_rows(backend, db, make_settings):
    # Given three acknowledged disputes (after 20 s, 90 s and 2 h), two of them resolved
    for i, (ack_after, by, source) in enumerate([(20, ANA, "reply"), (90, BO, "take"),
                                                 (7200, ANA, "reply")]):
        dispute = seed_dispute(f"d-{i}", "notified", detected_at=T)
        Dispute.update(acknowledged_by=by, acknowledged_at=T + ack_after).where(
            Dispute.dispute_id == dispute.dispute_id).execute()
        SolverAcknowledgement.create(dispute_id=dispute.dispute_id, solver_pubkey=by,
                                     scope="dispute", source=source,
                                     acknowledged_at=T + ack_after)
    for i, resolved_after in ((0, 600), (1, 4000)):
        Dispute.update(lifecycle_state="resolved", last_state_change=T + resolved_after).where(
            Dispute.dispute_id == f"d-{i}").execute()
    seed_dispute("d-never", "new", detected_at=T)
    for i, tier in enumerate((0, 0, 1)):
        NotificationTier.create(dispute_id=f"d-{i}", tier_index=tier, tier_entered_at=T,
                                started_at=T, updated_at=T)
    # When Prometheus scrapes
    found = scrape(make_settings().replace(redis_url=None))
    # Then time to acknowledge counts the three, by bucket
    mtta = "serbero_time_to_acknowledge_seconds"
    assert found[(f"{mtta}_count", frozenset())] == 3
    assert found[(f"{mtta}_sum", frozenset())] == 20 + 90 + 7200
    assert found[(f"{mtta}_bucket", frozenset({("le", "30.0")}))] == 1
    assert found[(f"{mtta}_bucket", frozenset({("le", "120.0")}))] == 2
    assert found[(f"{mtta}_bucket", frozenset({("le", "3600.0")}))] == 2
    assert found[(f"{mtta}_bucket", frozenset({("le", "+Inf")}))] == 3
    # time to resolve counts the two resolved
    mttr = "serbero_time_to_resolve_seconds"
    assert found[(f"{mttr}_count", frozenset())] == 2
    assert found[(f"{mttr}_sum", frozenset())] == 4600
    assert found[(f"{mttr}_bucket", frozenset({("le", "900.0")}))] == 1
    # acknowledgements by solver and source, and disputes by tier reached (1-based)
    acks = "serbero_acknowledgements_total"
    assert found[(acks, frozenset({("solver", ANA), ("source", "reply")}))] == 2
    assert found[(acks, frozenset({("solver", BO), ("source", "take")}))] == 1
    tiers = "serbero_notification_tier_reached_total"
    assert found[(tiers, frozenset({("tier", "1")}))] == 2
    assert found[(tiers, frozenset({("tier", "2")}))] == 1
