"""Escalation: the handoff package a human solver receives, written exactly once, routed and
dispatched through the outbox (spec §6.2 ESC-*, §7 DISP-*), and manual escalation.

Never moves funds and never talks to Mostro: a handoff only tells solvers to take a dispute.
This package never imports dramatiq; `serbero_workers/escalation.py` adapts its functions to jobs.
"""
