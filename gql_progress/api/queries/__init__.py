"""Query fields, grouped by domain and merged into one Query type in gql_progress.api.schema."""
