"""Identity (OneID): an identifier graph that resolves every message to a stable person id."""
