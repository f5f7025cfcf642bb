"""The core that knows nothing about Dataverse: plans, saved plans, apply order, rendering.

``kind`` (the contract every resource kind fulfils) · ``registry`` (the kinds of a run) ·
``plan`` (types only) · ``planner`` (concurrent reads, diff, target, order, guards) ·
``applier`` (safe kind order, checkpoint after every change) · ``reconcile``, ``spool``,
``adoption``, ``addresses`` · ``planfile`` (saved plans and their freshness) · ``render``
(text, JSON, Markdown).

It imports state, clients' types, config and the root modules, never a kind, the audit
or a use case: the commands that drive it live in :mod:`sssctl.app`.
"""
