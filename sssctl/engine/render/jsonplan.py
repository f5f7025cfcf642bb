"""The machine plan: a stable, versioned JSON shape that OPA/Conftest policies can read.

The shape follows Terraform's ``show -json`` where it can (``resource_changes[].change
.actions/before/after``). It only ever grows; ``format_version`` changes on a break.
"""

from __future__ import annotations

import json
from typing import Any

from sssctl import __version__
from sssctl.engine.plan import Plan
from sssctl.engine.render.common import counts, to_plain

FORMAT_VERSION = "1.0"


def to_document(plan: Plan, *, environment_name: str) -> dict[str, Any]:
    tally = counts(plan)
    return {
        "format_version": FORMAT_VERSION,
        "sssctl_version": __version__,
        "environment": {"name": environment_name, "url": plan.environment_url,
                        "organization_id": plan.organization_id},
        "state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "config_digest": plan.config_digest,
        "created_at": plan.created_at,
        "refresh_only": plan.refresh_only,
        "resource_changes": [
            {
                "address": c.address,
                "kind": c.kind,
                "change": {
                    "actions": [c.action.word], "before": to_plain(c.before), "after": to_plain(c.after),
                },
                "reason": c.reason,
            }
            for c in plan.changes
        ],
        "summary": tally,
        "complete": tally["unknown"] == 0,
    }


def render(plan: Plan, *, environment_name: str) -> str:
    return json.dumps(to_document(plan, environment_name=environment_name), indent=2, sort_keys=False) + "\n"
