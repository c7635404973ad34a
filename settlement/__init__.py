"""The settlement rules (SETTLEMENT_RULES §2-§12): pure functions of typed tables, no file or service."""
