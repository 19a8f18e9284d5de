"""dramatiq's side of Serbero: the broker (`broker.py`), the actors (thin wrappers over
`serbero/`), and the wiring of every process (`wiring.py`). Importing this package does
nothing; `dramatiq serbero_workers.wiring:boot` (or `serbero worker`) builds the broker from the
configuration and declares the actors on it."""
