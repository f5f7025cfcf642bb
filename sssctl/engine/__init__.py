"""The core that knows nothing about Dataverse: plans, saved plans, apply order, rendering.

``plan`` (types only) · ``planner`` (concurrent reads, diff, target, order, guards) ·
``applier`` (safe kind order, checkpoint after every change) · ``planfile`` (saved plans
and their freshness) · ``runner`` (one run: config, sign-in, lock, state) · ``render``
(text, JSON, Markdown) · ``commands`` (what the CLI prints and exits with) · ``demo``,
``export``.
"""
