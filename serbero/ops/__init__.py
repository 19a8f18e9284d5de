"""The operator surface's logic: listener heartbeats, cross-process counters, queue and
database figures for `serbero status` and the Prometheus endpoint, and the token-gated HTTP
serving both operator endpoints share. Never imports dramatiq: it reads dramatiq's Redis
layout directly, and the CLI passes in the queue names the workers declare."""
