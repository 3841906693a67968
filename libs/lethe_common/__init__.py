"""Shared code of every Lethe service. It knows no service."""
