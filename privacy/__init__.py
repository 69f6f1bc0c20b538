"""The privacy area: export, access requests, erasure with suppression, and retention."""
