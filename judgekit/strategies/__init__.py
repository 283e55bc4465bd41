"""Strategies: the Python that runs a protocol spec against a backend (one module each)."""
