"""Personal-information protection: the audit log, erasure receipts and event retention."""
