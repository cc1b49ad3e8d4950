"""Helpers shared by the integration tests and the chaos scripts (never imported by conftest.py)."""
