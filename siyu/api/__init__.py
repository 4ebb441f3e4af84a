"""HTTP entry points: the Segment-compatible collection API and the management API."""
