"""Test-support simulators: an in-process relay, a Mostro node and solver inboxes.

Used by the test suite, the benchmark and `serbero demo`; never by the daemon itself.
"""
