"""The use cases: one run of a command, from a typed request to an exit code.

``requests`` (what each command asks for, typed, parsed once by the command line) ·
``runner`` (the composition root and one run: config, sign-in, lock, state) ·
``commands`` (plan, apply, show, refresh, destroy, state list/show/unlock, export, audit:
what a command prints and exits with) · ``state`` (state pull/push/rm/migrate) ·
``export``, ``diff``, ``demo`` · ``targeting`` (``--target`` review) · ``interrupts``
(Ctrl-C during apply) · ``progress``, ``confirm`` (talking to the person at the keyboard) ·
``fleet`` (the same commands over every member of a fleet file) · ``watch`` (continuous
enforcement: cycles, election, notifications, ``/healthz`` and ``/metrics``) ·
``needs``, ``bootstrap``, ``auth_check`` (least privilege, and proving it).

This floor sits under the command line and over everything else: it may import the
engine, the kinds, the audit, the fleet file, state, clients and config, and nothing
imports it but :mod:`sssctl.cli`.
"""
