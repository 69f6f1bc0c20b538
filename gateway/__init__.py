"""Inlet: a self-hosted contact-ingestion gateway for email marketing."""
