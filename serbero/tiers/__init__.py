"""Escalation tiers (issue 9): `[[notifications.tiers]]`, an ordered chain of audiences a
dispute nobody acknowledged climbs, one tier after another's wait. Who a tier reaches
(`audience`, with quiet hours and the round-robin suggestion), the chain's steps as delayed
jobs guarded by a token (`steps`), and the periodic scan that replaces a lost step."""
