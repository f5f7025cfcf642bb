"""sssctl: declarative lockdown of Dataverse Server-Side Synchronization."""

__version__ = "0.1.0"
