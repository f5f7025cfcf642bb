"""Use cases: what a command does, between the command line and the engine."""
