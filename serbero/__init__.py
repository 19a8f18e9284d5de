"""Serbero: dispute coordination for Mostro. Detects disputes, tells solvers, tracks the lifecycle.

Serbero never moves funds: no code path in this package builds `admin-settle` or `admin-cancel`.
"""

__version__ = "0.2.0"
