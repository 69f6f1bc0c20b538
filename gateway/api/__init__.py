"""The token-authenticated REST API."""
