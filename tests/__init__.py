"""The tests, in three tiers (tests/conftest.py says which is which)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository
