"""`python -m serbero` runs the command line."""

from serbero.cli import main

main()
