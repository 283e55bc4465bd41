"""A run's records in, numbers out: one implementation per run kind."""
