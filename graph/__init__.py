"""The GraphQL types of the contract: objects, inputs, payloads, enums, connections, and
the per-request context with its DataLoaders. Resolvers build these; `schema/` puts them
under the root Query and Mutation. Nothing here imports a resolver or the schema."""
