"""Signed-in, resilient clients for Dataverse, Microsoft Graph and the Exchange admin API.

The engine and kinds enter through :func:`sssctl.clients.session.open_clients` and catch the
meanings in :mod:`sssctl.clients.errors`; HTTP, OData and MSAL details stay in this package.
Submodules are imported lazily by their users so that ``sssctl --help`` stays fast.
Floor: under state, the kinds and the engine; it may import config and the root modules.
"""
