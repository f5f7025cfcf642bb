"""Use cases: what each command does, composed from the engine, the state and the clients."""
