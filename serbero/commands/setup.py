"""Setting a deployment up: `serbero config sample` prints a starting configuration with every
key documented, from the installed package, so the hint in "no config file" errors works in any
installation (issue 10)."""

from __future__ import annotations

from importlib import resources

import click

from serbero.cli import cli

#: The sample, shipped as package data (a link to config/serbero.sample.toml in the source).
SAMPLE = ("data", "serbero.sample.toml")


def sample_text() -> str:
    return resources.files("serbero").joinpath(*SAMPLE).read_text(encoding="utf-8")


@cli.group("config")
def config_group() -> None:
    """Start a configuration file."""


@config_group.command("sample")
def config_sample() -> None:
    """Print a sample configuration with every key documented.

    \b
    Example:
        serbero config sample > config.toml && chmod 600 config.toml
    """
    click.echo(sample_text(), nl=False)
