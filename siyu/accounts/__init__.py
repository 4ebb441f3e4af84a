"""Accounts: users, roles per workspace, sessions, login throttling and API keys."""
