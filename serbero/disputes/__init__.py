"""Disputes: parsing Mostro's dispute events, the lifecycle, and the notices solvers receive."""
