"""dramatiq entry point: `dramatiq workers` (or `serbero worker`) imports this package, which
configures the broker before any actor is declared, then declares the actors."""

from serbero import config, logs
from workers.broker import broker

logs.setup(config.log_level() or "info")

from workers import actors  # noqa: E402 - actors bind to the broker configured above

__all__ = ["actors", "broker"]
