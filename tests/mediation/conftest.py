"""The mediation tests use the reasoning tests' scripted endpoints and bundle."""

from tests.reasoning.conftest import (  # noqa: F401 - fixtures
    bundle,
    endpoint,
    endpoint_b,
    make_chain,
    no_sleep,
    waits,
)
