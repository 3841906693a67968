"""Lethe's consent service (SPEC section 1)."""
