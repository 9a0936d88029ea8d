"""gql_progress: a GraphQL API for learners' progress through online courses."""

__version__ = "0.1.0"
