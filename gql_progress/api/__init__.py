"""The GraphQL layer: schema factory, types, inputs, mutations, per-request context and loaders."""
