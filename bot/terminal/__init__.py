"""The terminal adapter: a rich prompt loop over the engine."""
