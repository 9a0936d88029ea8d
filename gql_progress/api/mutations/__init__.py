"""Mutation fields, grouped by domain and merged into one Mutation type in gql_progress.api.schema."""
