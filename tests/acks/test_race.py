"""Two solvers acknowledging one dispute at the same instant, each on its own database
connection, on SQLite and PostgreSQL: one is recorded first, both acknowledgements are kept,
and the one who lost hears once who won; the winner hears nothing about herself."""

from nostr_sdk import PublicKey

from serbero import clock
from serbero.acks import inbox
from serbero.acks.models import SolverAcknowledgement
from serbero.db.models import Dispute, Notification
from tests.acks.conftest import settle
from tests.escalation.test_concurrency import race

DISPUTES = [f"{i:08d}-2222-4333-8444-555555555555" for i in range(4)]


def test_two_solvers_acknowledging_at_once_give_one_first_and_one_notice(
        nostr_loop, mostro, acks, solver_ana, solver_bo):
    for dispute_id in DISPUTES:
        acks.ingest(mostro.revision(dispute_id, "initiated"))
    me = acks.rt.settings.serbero_pubkey
    solvers = (solver_ana, solver_bo)
    for dispute_id in DISPUTES:
        # Given both replies on the relay
        raws = [nostr_loop.run(s.reply(me, "ack", dispute_id=dispute_id), 10).as_json()
                for s in solvers]
        # When two workers apply them at the same moment
        now = clock.now()
        handled = race(2, lambda i, raws=raws, now=now: inbox.ingest(
            raws[i], settings=acks.rt.settings, signer=acks.rt.signer, now=now))
        # Then exactly one is first, and both are kept
        assert sorted(h.outcome for h in handled) == ["acknowledged", "acknowledged_late"]
        winner = solvers[[h.outcome for h in handled].index("acknowledged")]
        loser = solver_bo if winner is solver_ana else solver_ana
        assert Dispute.get_by_id(dispute_id).acknowledged_by == winner.pubkey
        assert {a.solver_pubkey for a in SolverAcknowledgement.select().where(
            SolverAcknowledgement.dispute_id == dispute_id)} == {winner.pubkey, loser.pubkey}
        # And one notice went out, to the one who lost
        [notice] = Notification.select().where((Notification.dispute == dispute_id)
                                               & (Notification.notif_type == "acknowledged"))
        assert notice.solver_pubkey == loser.pubkey
        acks.publish([i for h in handled for i in h.outbox_ids])
        winner_npub = PublicKey.parse(winner.pubkey).to_bech32()
        nostr_loop.run(loser.wait_for(1, f"{dispute_id} \u00b7 acknowledged by {winner_npub}"),
                       15)
    settle(nostr_loop)
    for inbox_ in solvers:
        for dispute_id in DISPUTES:
            assert len(inbox_.texts(f"{dispute_id} \u00b7 acknowledged by")) <= 1
    total = sum(len(s.texts("acknowledged by")) for s in solvers)
    assert total == len(DISPUTES)
