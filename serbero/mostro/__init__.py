"""The Mostro protocol layer: message codec, transports, the node's info event, the take-dispute
exchange, and the dispute chat with buyer and seller (keys, envelopes, durable dedup).

A library: it never imports dramatiq, and it never builds a message that moves funds.
"""
