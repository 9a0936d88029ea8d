"""The gql_progress benchmark: `make bench` (see bench/README.md)."""
