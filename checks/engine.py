"""Check runs (job kind checks.run)."""
