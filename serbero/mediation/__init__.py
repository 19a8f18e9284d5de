"""Guided mediation: the decisions and safeguards (the policy table, the authority-boundary
guard, the redaction of Nostr identifiers, the rationale store, the evaluation that joins them
to the reasoning layer) and the sessions built on them — their states and timers (`sessions`,
`timers`), the party-text catalog (`catalog`), the start flow and Serbero's take (`start`,
`takes`, `opening`), what the parties write and what Serbero writes back (`inbound`,
`outbound`, `replies`, `advance`), the endings (`summary`, `escalate`, `forwarding`,
`revisions`, `report`), and the entry points the workers call (`daemon`)."""
