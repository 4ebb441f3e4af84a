"""Benchmarks (``make bench``): each reports a ratio against a peer measured in the same run."""
