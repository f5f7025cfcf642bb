"""Fleet use cases: the one-environment session run once per member, a few at a time.

``run`` (members in flight, each with its own lock and result) · ``commands`` (fleet
validate, plan, refresh, apply, audit, matrix) · ``diffing`` (``sssctl diff``) ·
``render`` (the summary table and each member's plan). Reading a fleet file stays in
:mod:`sssctl.fleet`.
"""
