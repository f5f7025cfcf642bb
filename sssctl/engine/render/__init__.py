"""Renderers of a plan: text for people, JSON for policy tools, Markdown for pull requests.

All three draw from :mod:`sssctl.engine.render.common`, so they agree on which changes
are shown, how values are spelled and what the summary says.
"""
