"""The public surface users hold: the sync and async clients, `Prediction`, and the stream."""
