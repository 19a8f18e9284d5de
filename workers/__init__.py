"""dramatiq entry point: `dramatiq workers` (or `serbero worker`) imports this package, which
configures the broker and declares the actors on it."""

from serbero.nostr import bindings
from workers import actors, escalation, mediation
from workers.broker import broker

bindings.apply()  # worker processes started by plain `dramatiq workers` get it too

__all__ = ["actors", "broker", "escalation", "mediation"]
