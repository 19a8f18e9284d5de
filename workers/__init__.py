"""dramatiq entry point: `dramatiq workers` (or `serbero worker`) imports this package, which
configures the broker and declares the actors on it."""

from workers import actors, escalation
from workers.broker import broker

__all__ = ["actors", "broker", "escalation"]
