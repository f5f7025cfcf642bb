"""Fleet files: one baseline across many environments.

A fleet file lists members (a config each, usually an overlay that ``extends`` a shared
baseline, plus optional ``[environment]`` overrides). ``file`` reads and checks it;
``matrix`` turns it into a CI job matrix. Running the members is a use case and lives in
:mod:`sssctl.app.fleet`. This package imports only :mod:`sssctl.config`.
"""
