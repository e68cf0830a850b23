"""Staff admin: provider keys, secrets never shown."""
