"""Workspaces: one per brand; everything else is scoped by workspace."""
