"""``sssctl audit``: the hardened baseline, the kinds' declared checks turned into findings,
and their table, Markdown and SARIF renderings.

``baseline`` (the hardened desired state, and reading the kinds that declare checks) ·
``checks`` (findings, ranking, ``--fail-on``) · ``formats``, ``sarif``. It names no kind:
what is judged and how, each kind declares in ``spec.checks``. Floor: over the kinds
(it reads them through the registry it is handed) and the engine; it may import the
engine, clients, config and the root modules, and only :mod:`sssctl.app` imports it.
"""

