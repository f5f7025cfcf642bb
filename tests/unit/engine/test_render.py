from __future__ import annotations

from sssctl.engine.plan import Action, Change, Plan
from sssctl.engine.render import markdown, text


def plan_of(*changes: Change, refresh_only: bool = False) -> Plan:
    return Plan(changes=changes, environment_url="https://x", organization_id="org", state_lineage=None,
                state_serial=0, config_digest="d", created_at="t", refresh_only=refresh_only)


CHANGES = (
    Change('server_profile.custom["EXO"]', Action.CREATE, None, {"name": "EXO", "active": True}, "missing",
           kind="server_profile_custom"),
    Change("approval", Action.UPDATE, {"require_for_users": False, "require_for_queues": True},
           {"require_for_users": True, "require_for_queues": True}, "approval is not required"),
    Change("mailboxes", Action.UPDATE, {"drifted": 3}, {"drifted": 0}, "3 mailboxes drifted",
           sample=tuple(f"u{i}@contoso.com" for i in range(12))),
    Change("org_setting.Gone", Action.DELETE, {"value": 1}, None, "created by sssctl"),
    Change("privilege.prvX", Action.UNKNOWN, None, None, "could not be read: 403 denied"),
    Change("org_setting.Same", Action.NOOP, {"value": 1}, {"value": 1}, ""),
)


def test_text_shows_symbols_fields_samples_reasons_and_summary() -> None:
    out = text.render(plan_of(*CHANGES), color=False)
    assert '  + server_profile.custom["EXO"]' in out
    assert '      name: "EXO"' in out
    assert "  ~ approval" in out and "require_for_users: false -> true" in out
    assert "require_for_queues" not in out          # unchanged fields are not shown
    assert "  - org_setting.Gone" in out
    assert "  ? privilege.prvX" in out and "# could not be read: 403 denied" in out
    assert "sample: u0@contoso.com" in out and "(+2 more)" in out
    assert "org_setting.Same" not in out            # no-ops are not rendered
    assert "Plan: 1 to add, 2 to change, 1 to destroy, 1 unknown.\nObjects marked ? could not be read" in out
    assert "\x1b[" not in out


def test_colour_only_when_asked() -> None:
    assert "\x1b[" in text.render(plan_of(*CHANGES), color=True)


def test_empty_plan_says_the_environment_matches() -> None:
    out = text.render(plan_of(CHANGES[-1]))
    assert out == "No changes. The environment matches the configuration.\n"


def test_informational_noops_are_shown() -> None:
    report = Change("mailboxes", Action.NOOP, None, None, "report only: 4 drifted", report_only=True)
    out = text.render(plan_of(report))
    assert "  . mailboxes" in out and "report only: 4 drifted" in out
    assert out.startswith("Nothing to change; for your information:")
    assert out.rstrip().endswith("No changes. The environment matches the configuration.")


def test_refresh_only_summaries() -> None:
    assert "No drift" in text.render(plan_of(refresh_only=True))
    drift = Change("approval", Action.UPDATE, {"u": True}, {"u": False}, "changed outside sssctl")
    assert "Drift: 1 managed object(s)" in text.render(plan_of(drift, refresh_only=True))


def test_markdown_has_a_table_and_folded_details() -> None:
    out = markdown.render(plan_of(*CHANGES), environment_name="contoso")
    assert out.startswith("### sssctl plan for `contoso`")
    assert "**Plan: 1 to add, 2 to change, 1 to destroy, 1 unknown.**" in out
    assert "| `~` | `approval` | update | approval is not required |" in out
    assert "<details>" in out and "- require_for_users: false" in out and "+ require_for_users: true" in out
    assert "</details>" in out


def test_markdown_escapes_pipes_in_cells() -> None:
    change = Change("approval", Action.UPDATE, {"a": 1}, {"a": 2}, "a | b")
    assert "a \\| b" in markdown.render(plan_of(change), environment_name="e")


def test_one_sided_fields_are_context_not_an_invented_or_erased_value() -> None:
    change = Change("mailboxes", Action.UPDATE, {"drifted": 3, "by_reason": {"incoming_email": 3}},
                    {"drifted": 0, "scope": "users"}, "revert 3 mailboxes")
    out = text.render(plan_of(change), color=False)
    assert "drifted: 3 -> 0" in out
    assert '      by_reason: {"incoming_email": 3}\n' in out
    assert '      scope: "users"\n' in out
    assert "(none)" not in out
    md = markdown.render(plan_of(change), environment_name="e")
    assert "- drifted: 3\n+ drifted: 0" in md
    assert '  scope: "users"' in md and "(none)" not in md


def test_a_report_only_aggregate_prints_its_sample_once() -> None:
    report = Change("mailboxes", Action.NOOP, {"drifted": 2, "sample": ["a@x", "b@x"]}, None,
                    "report only: 2 mailboxes differ", report_only=True, sample=("a@x", "b@x"))
    for out in (text.render(plan_of(report)), markdown.render(plan_of(report), environment_name="e")):
        assert out.count("sample:") == 1 and "a@x, b@x" in out


def test_a_change_needing_elevation_says_so_in_every_format() -> None:
    from sssctl.engine.render import jsonplan

    change = Change("exchange_scope.sss", Action.CREATE, None, {"scope": "g"}, "restrict it",
                    elevation="grant the tenant-wide consent of exchange:full_access_as_app")
    p = plan_of(change)
    assert "! needs elevation: grant the tenant-wide consent" in text.render(p)
    assert "Needs elevation: exchange_scope.sss" in text.render(p)
    assert "**Needs elevation:**" in markdown.render(p, environment_name="e")
    document = jsonplan.to_document(p, environment_name="e")
    assert document["sssctl"]["needs_elevation"] == ["exchange_scope.sss"]
    assert document["resource_changes"][0]["sssctl"]["needs_elevation"].startswith("grant")
