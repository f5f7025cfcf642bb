"""``audit``: read-only posture checks against the hardened baseline."""

from __future__ import annotations

from pathlib import Path

import click

from sssctl.app.requests import AuditFormat, AuditRequest, Severity
from sssctl.cli.options import config_option, environment_limits, invocation, run


@click.command("audit")
@config_option
@click.option("--fail-on", type=click.Choice(["high", "medium", "low"]), default=None,
              help="Exit 5 when a finding is at least this severe (unreadable objects count as high).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "sarif"]), default="table",
              show_default=True,
              help="table for people, json for scripts, markdown for a job summary, "
                   "sarif (2.1.0) for GitHub code scanning.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_context
def audit_command(ctx: click.Context, config_path: Path, fail_on: Severity | None, fmt: AuditFormat,
                  as_json: bool) -> None:
    """Read-only posture checks against the hardened baseline, as a table with severities.

    Checks: default profile active and mailboxes still on it, an active custom profile
    whose app Exchange does not restrict to a group (an own app scoped by an application
    access policy is the hardened posture), approval not required, self-approval allowed,
    roles other than System Administrator holding the approve privilege, users tracking
    all email, new mailboxes not on server-side sync.
    Exit status: 0 success, 1 error, 5 a finding at or above --fail-on.

    \b
        sssctl audit -c configs/hardened.toml --fail-on high
        sssctl audit --format sarif > sssctl.sarif          # github/codeql-action/upload-sarif
        sssctl audit --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from sssctl.app import commands

    request = AuditRequest(fail_on=fail_on, fmt="json" if as_json else fmt)
    inv = invocation(ctx, config_path, limits=environment_limits())
    run(ctx, inv, lambda: commands.cmd_audit(inv, request))
