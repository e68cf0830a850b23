"""Staff admin: the audit trail, read-only."""
