"""Referral and acquisition: channel live codes, staff and store credit, the referral tree."""
