"""Analytics: funnels, retention, repurchase, LTV, GMV and attribution over the event store.

Queries are typed models compiled to DuckDB or ClickHouse SQL (kept apart from running),
run by an :class:`~siyu.analytics.engine.Engine` over events whose persons are mapped
through identity merges.
"""
