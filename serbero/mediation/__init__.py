"""Mediation's decisions and safeguards: the policy table, the authority-boundary guard, the
redaction of Nostr identifiers, the rationale store and the evaluation that joins them to the
reasoning layer. Sessions (chat, rounds, timers) build on these."""
