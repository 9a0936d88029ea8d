"""GraphQL input types, one per module."""
