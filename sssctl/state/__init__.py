"""State snapshots: model, backends (local files; Azure Blob with a lease lock), locking.

See ARCHITECTURE §6. Floor: under the engine (the applier checkpoints through
``store``); it may import clients (the blob backend signs in), config and the root
modules, never the engine, a kind or a use case.
"""
