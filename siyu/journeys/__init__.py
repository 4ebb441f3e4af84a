"""Journeys: versioned automations stepping people through waits, branches and actions."""
