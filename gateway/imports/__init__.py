"""CSV and JSON bulk import (SPEC §4): upload, mapping, consent, validation, fallbacks,
finalise, report."""
