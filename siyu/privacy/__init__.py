"""Personal-information protection: the audit log, erasure receipts and retention periods."""
