"""The ``siyu`` command line."""
