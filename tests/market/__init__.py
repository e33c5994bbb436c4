"""The market exporter: price and network sources, the user's node, selection."""
