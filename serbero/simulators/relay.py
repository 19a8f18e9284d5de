"""An in-process Nostr relay (nostr-sdk's LocalRelay) with limits fit for tests and demos."""

from __future__ import annotations

from nostr_sdk import LocalRelay, LocalRelayBuilder, RateLimit

#: LocalRelay's default allows 60 events per minute per connection, far too few for a test.
NOTES_PER_MINUTE = 10_000_000
MAX_REQS = 1000


async def start_relay(port: int | None = None, *,
                      page_limit: int | None = None) -> tuple[LocalRelay, str]:
    """A running relay on 127.0.0.1 and its ws:// URL. Keep the relay object referenced: the
    relay shuts down when it is dropped. `page_limit` caps the stored events one request gets
    (LocalRelay's own cap is 500, as on many public relays)."""
    builder = (LocalRelayBuilder().addr("127.0.0.1")
               .rate_limit(RateLimit(max_reqs=MAX_REQS, notes_per_minute=NOTES_PER_MINUTE)))
    if port is not None:
        builder = builder.port(port)
    if page_limit is not None:
        builder = builder.max_filter_limit(page_limit).default_filter_limit(page_limit)
    relay = builder.build()
    await relay.run()
    return relay, str(await relay.url())
