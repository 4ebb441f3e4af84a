"""siyu (私域): a self-hosted platform for a brand's private customer pool."""

__version__ = "0.1.0"
