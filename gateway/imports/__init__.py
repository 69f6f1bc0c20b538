"""CSV and JSON bulk import (README, "Importing contacts"): upload, mapping, consent,
validation, fallbacks, finalise, report."""
