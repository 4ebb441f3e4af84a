"""Channels: the outbox, the restraint rules and the transports that reach people."""
