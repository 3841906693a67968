"""Lethe's identity service (SPEC section 1)."""
