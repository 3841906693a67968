"""Lethe's shop service (SPEC section 1)."""
