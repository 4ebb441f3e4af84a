"""Collect: validate Segment-spec messages, normalise ids, dedupe, hand them on."""
