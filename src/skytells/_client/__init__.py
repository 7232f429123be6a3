"""The client core: configuration, the sans-IO operations, and the sync and async drivers."""
