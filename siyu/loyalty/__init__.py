"""Loyalty: membership tiers, points, coupons and the points mall."""
