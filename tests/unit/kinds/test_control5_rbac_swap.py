"""Under ``method = "rbac"``, a change of transport (EWS -> Graph) keeps the old role
assignment until the canary passed over the new ones: the plan says so, the scope's apply
adds the new assignments and spares the old, and the canary takes it away or puts it back."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

from sssctl.config.model import MailboxScope
from sssctl.engine.kind import Context, Handoffs
from sssctl.kinds._control5 import rbac, rbac_scope
from sssctl.kinds.handoffs import RetireAfterCanary

EWS = "Application EWS.AccessAsApp"
GRAPH = rbac.roles_for(["graph:Mail.ReadWrite", "graph:Calendars.ReadWrite", "graph:Contacts.ReadWrite",
                        "graph:MailboxSettings.Read"])
SCOPE = MailboxScope(group="sss@contoso.com", method="rbac")


def assignment(role: str) -> dict[str, Any]:
    return {"Name": rbac.assignment_name("sss", role), "Role": role,
            "CustomResourceScope": rbac.scope_name("sss"), "RecipientAdministrativeUnitScope": None}


class Recorder:
    """Exchange as a list of the cmdlets run, answering the role assignments it holds."""

    def __init__(self, held: list[dict[str, Any]]) -> None:
        self.held, self.calls = held, []  # type: list[dict[str, Any]], list[tuple[str, str]]

    def invoke(self, cmdlet: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        self.calls.append((cmdlet, str(parameters.get("Role") or parameters.get("Identity") or "")))
        return [dict(a) for a in self.held] if cmdlet == "Get-ManagementRoleAssignment" else []


def context(exchange: Recorder) -> Context:
    return cast(Context, SimpleNamespace(exchange=exchange, handoffs=Handoffs()))


def test_only_the_old_way_in_waits_for_the_canary() -> None:
    assert rbac.retired_by_swap([assignment(EWS)], GRAPH) == [assignment(EWS)]
    held_both = [assignment(EWS), *map(assignment, GRAPH)]        # a run after a failed canary
    assert rbac.retired_by_swap(held_both, GRAPH) == [assignment(EWS)]
    assert rbac.retired_by_swap([assignment(EWS), assignment("Application Mail.Send")], [EWS]) == []
    assert rbac.retired_by_swap([assignment(EWS)], ["Application Mail.ReadWrite"]) == []  # Graph set short


def test_the_plan_says_the_old_assignment_goes_after_the_canary_only_for_a_profiled_app() -> None:
    found = {"pointer": {"AppId": "a"}, "scope": None, "filter": None, "assignments": [assignment(EWS)]}
    detail: dict[str, Any] = {}
    change = rbac_scope.diff("exchange_scope.sss", found, "sss", SCOPE, roles=GRAPH, detail=detail,
                             profiled=True)
    assert detail["retire_after_canary"] is True
    assert f"remove role assignment {assignment(EWS)['Name']} only after the canary passed" in change.reason
    assert change.reason.index("assign Application") < change.reason.index("only after the canary")
    plain: dict[str, Any] = {}
    unprofiled = rbac_scope.diff("exchange_scope.sss", found, "sss", SCOPE, roles=GRAPH, detail=plain)
    assert "retire_after_canary" not in plain and "only after the canary" not in unprofiled.reason


def test_new_assignments_come_first_and_a_swap_spares_the_old_one() -> None:
    exchange = Recorder([assignment(EWS)])
    writes, spared = rbac_scope._ensure_assignments(context(exchange), "sss", "a", SCOPE, roles=GRAPH,
                                                    recreate=False, spare=True)
    assert spared == [assignment(EWS)] and writes == len(GRAPH)
    assert [c for c in exchange.calls if c[0] == "New-ManagementRoleAssignment"] == [
        ("New-ManagementRoleAssignment", role) for role in GRAPH]
    assert not any(c[0] == "Remove-ManagementRoleAssignment" for c in exchange.calls)

    plain = Recorder([assignment(EWS)])
    _, none = rbac_scope._ensure_assignments(context(plain), "sss", "a", SCOPE, roles=GRAPH, recreate=False)
    assert none == [] and plain.calls[-1] == ("Remove-ManagementRoleAssignment", assignment(EWS)["Name"])


def test_the_canary_removes_the_old_assignment_and_a_failure_makes_it_again() -> None:
    exchange = Recorder([])
    ctx = context(exchange)
    retire = RetireAfterCanary(assignments=(assignment(EWS),))
    assert rbac.remove_assignments(ctx, retire.assignments) == 1
    assert rbac.restore_assignments(ctx, "a", retire.assignments) == 1
    assert exchange.calls == [("Remove-ManagementRoleAssignment", assignment(EWS)["Name"]),
                              ("New-ManagementRoleAssignment", EWS)]


def test_under_an_access_policy_the_old_consent_waits_too_after_a_failed_canary() -> None:
    from sssctl.kinds.exchange_scope import _swaps_transport

    def grants(*names: str) -> list[dict[str, str]]:
        return [{"name": n} for n in names]

    graph = grants("graph:Mail.ReadWrite", "graph:Calendars.ReadWrite", "graph:Contacts.ReadWrite",
                   "graph:MailboxSettings.Read")
    assert _swaps_transport(grants("exchange:full_access_as_app"), graph)     # held together, or not
    assert not _swaps_transport(grants("graph:Mail.Send"), graph)
    assert not _swaps_transport(grants("exchange:full_access_as_app"), graph[:1])
