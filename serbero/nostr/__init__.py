"""The Nostr layer: keys, event checks, NIP-17 DMs and the relay connections, over nostr-sdk."""
