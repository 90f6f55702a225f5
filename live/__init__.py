"""Live updates: GraphQL subscriptions over WebSocket and the feed of committed events."""
