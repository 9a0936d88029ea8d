"""The HTTP and WebSocket edge: routes, the request policy (gate, credentials, rate limit,
idempotency, logs, metrics) and the views that hand a request to the GraphQL layer."""
