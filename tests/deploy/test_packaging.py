"""What `pip install serbero` puts on sys.path: only names of Serbero's own (issue 10, item 11:
a top-level `workers` would clash with any other project's), with the data files the code opens
at run time."""

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_installed_top_level_package_is_named_for_serbero():
    packages = find_packages(str(ROOT), **SETUPTOOLS["packages"]["find"])
    top_level = {name.split(".")[0] for name in packages}
    assert top_level == {"serbero", "serbero_workers"}
    assert "serbero_workers.process" not in packages  # a module, not a package: still shipped
    assert (ROOT / "serbero_workers" / "process.py").is_file()


def test_the_files_the_code_opens_are_package_data():
    patterns = SETUPTOOLS["package-data"]["serbero"]
    shipped = {p for pattern in patterns for p in (ROOT / "serbero").glob(pattern)}
    for needed in ("data/serbero.sample.toml", "data/prompts/phase3-system.md",
                   "mediation/guard_phrases.toml"):
        assert ROOT / "serbero" / needed in shipped, needed
