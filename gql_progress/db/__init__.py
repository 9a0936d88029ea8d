"""Data access: models, engine and the set-based queries the domain layer runs."""
