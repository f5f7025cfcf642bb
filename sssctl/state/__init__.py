"""State snapshots (model, local backend, lock). See ARCHITECTURE §6."""
