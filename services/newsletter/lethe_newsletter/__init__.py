"""Lethe's newsletter service (SPEC section 1)."""
