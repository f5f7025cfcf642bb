"""Desired-state configuration: TOML in, typed immutable :class:`~sssctl.config.model.Desired` out.

Floor: under everything that reads a config; it may import only the catalog and the root
modules (``logging``, ``errors``).
"""
