"""Model backends (one module per provider) and the shared call path that wraps them."""
