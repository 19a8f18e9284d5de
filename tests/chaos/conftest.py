"""The chaos suite runs bench/chaos.py's own code (short form: a small burst, short faults),
so what the suite proves is what `python bench/chaos.py --all` proves at full size."""

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import need

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/chaos/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def redis_server() -> None:
    """Each scenario starts a redis-server of its own (a fault flushes or stops it)."""
    need(shutil.which("redis-server") is not None, "redis-server")
