"""Outbound events: contacts flow out to CRMs and no-code tools, signed and retried."""
