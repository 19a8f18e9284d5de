"""The command tests use the reasoning tests' scripted endpoints."""

from tests.reasoning.conftest import endpoint, endpoint_b  # noqa: F401 - fixtures
