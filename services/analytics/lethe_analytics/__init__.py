"""Lethe's analytics service: first-party, opt-in web analytics (SPEC sections 1 and 3)."""
