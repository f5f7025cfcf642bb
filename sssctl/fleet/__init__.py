"""Fleets: one baseline across many environments.

A fleet file lists members (a config each, usually an overlay that ``extends`` a shared
baseline, plus optional ``[environment]`` overrides). This package sits above the engine:
it runs the ordinary one-environment session once per member and never the reverse.
"""
