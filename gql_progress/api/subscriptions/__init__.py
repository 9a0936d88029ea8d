"""Subscription fields (graphql-transport-ws over WebSocket), merged into one Subscription type
in gql_progress.api.schema and fed by gql_progress.live."""
