"""The reasoning layer: model providers (OpenAI-compatible, Anthropic) behind one small interface,
the prompt bundle, prompt building, response parsing, health state and call records.

It classifies and summarises; it never decides (serbero.mediation.policy does) and never sends
anything to a party or a solver."""
