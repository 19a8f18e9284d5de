"""`serbero` subcommands kept outside `serbero/cli.py`, one module per area, each registered on
the `cli` group by one line at the bottom of `cli.py`."""
