"""Recommendations: products for a person (ALS/BPR with bought-together and popularity
fallbacks), their offline evaluation, and the next-best offer."""
