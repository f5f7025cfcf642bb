"""Desired-state configuration: TOML in, typed immutable :class:`~sssctl.config.model.Desired` out."""
