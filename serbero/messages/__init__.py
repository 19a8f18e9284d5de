"""What Serbero tells people about a dispute: the solver message (`message`), the forms it
travels in (`formats`: Mostro v2 `send-dm`, the original's NIP-17 texts), and the copies that
go to observers and webhooks (`copies`). Builds and signs; never sends."""
