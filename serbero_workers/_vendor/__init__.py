"""Third-party code shipped inside Serbero, each package under its own licence (see its
VENDORED.md for where it came from and what was changed)."""
