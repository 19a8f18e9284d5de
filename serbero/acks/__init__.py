"""Solver acknowledgements (issue 9): a solver says "I have seen it" by replying `ack` to
Serbero's message, or by taking the dispute. Parsing a reply (`reply`), reading the DMs solvers
send Serbero (`inbox`) and recording an acknowledgement with what follows from it (`record`).
A solver reply is never a command: it can acknowledge, and nothing else."""
