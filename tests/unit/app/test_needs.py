"""Least privilege computed from the kinds' declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sssctl.app.needs import TIER_ZERO_GRAPH, compute, excess
from sssctl.app.runner import default_services

ROOT = Path(__file__).resolve().parents[3]


def _needs(name: str):  # type: ignore[no-untyped-def]
    services = default_services()
    return compute(services.load_kinds(), services.load_config(ROOT / "configs" / name, {}))


@pytest.mark.parametrize("name", ["hardened.toml", "hardened-rbac.toml", "minimal.toml", "lockdown.toml"])
def test_plan_needs_read_only(name: str) -> None:
    needs = _needs(name)
    privileges = needs.privileges("plan")
    assert privileges and all(p.startswith("prvRead") for p in privileges)
    exchange = needs.names("plan", "exchange", "cmdlet")
    assert all(c.startswith(("Get-", "Test-")) for c in exchange)
    assert set(needs.names("plan", "graph")) <= {"Application.Read.All"}


@pytest.mark.parametrize("name", ["hardened.toml", "hardened-rbac.toml"])
def test_the_standing_apply_identity_holds_no_tier_zero_right(name: str) -> None:
    needs = _needs(name)
    assert not set(needs.names("apply", "graph")) & TIER_ZERO_GRAPH
    assert "Application.ReadWrite.OwnedBy" in needs.names("apply", "graph")
    assert "AppRoleAssignment.ReadWrite.All" in needs.names("elevated", "graph")
    assert "System Administrator" not in str(needs.to_json())


def test_hardened_needs_are_exact() -> None:
    needs = _needs("hardened.toml")
    assert needs.privileges("apply")["prvReadUser"] == "Global"   # user settings read every user
    assert needs.privileges("plan")["prvReadOrganization"] == "Global"
    assert needs.names("apply", "exchange", "cmdlet") == sorted([
        "Get-ApplicationAccessPolicy", "Get-DistributionGroupMember", "Test-ApplicationAccessPolicy",
        "New-ApplicationAccessPolicy", "Remove-ApplicationAccessPolicy",
        # the EWS gate: read to admit the app and explain a refusal, written for the admission
        "Get-OrganizationConfig", "Get-CASMailbox", "Set-OrganizationConfig"])
    assert needs.names("plan", "exchange", "app_role") == ["Exchange.ManageAsApp"]


def test_minimal_needs_no_graph_or_exchange() -> None:
    needs = _needs("minimal.toml")
    assert needs.names("apply", "graph") == [] and needs.names("apply", "exchange") == []
    assert needs.names("elevated", "graph") == []


def test_every_grant_cites_its_documentation() -> None:
    for kind in default_services().load_kinds():
        for grant in kind.spec.grants:
            assert grant.source.startswith("https://learn.microsoft.com/"), (kind.name, grant.name)


def test_every_exchange_cmdlet_the_kinds_call_is_declared() -> None:
    """A cmdlet called but not declared would be missing from the custom management role."""
    called: set[str] = set()
    for path in (ROOT / "sssctl" / "kinds").rglob("*.py"):
        if path.name != "_grants.py":
            called |= set(re.findall(r'"((?:Get|Set|New|Remove|Test)-[A-Za-z]+)"', path.read_text()))
    kinds = default_services().load_kinds()
    declared = {g.name for k in kinds for g in k.spec.grants if g.service == "exchange"}
    assert called - declared == set()


def test_excess_names_what_is_held_beyond_the_needs() -> None:
    needs = _needs("hardened.toml")
    held = {"graph": ["Application.Read.All", "AppRoleAssignment.ReadWrite.All"],
            "dataverse": ["prvReadRole"]}
    assert excess(held, needs, "plan") == {"graph": ["AppRoleAssignment.ReadWrite.All"], "dataverse": []}


def test_strict_check_names_every_kind_of_excess() -> None:
    from sssctl.app.auth_check import excess_of

    needs = _needs("hardened.toml")
    held = {
        "dataverse": {"prvReadOrganization": "Global", "prvReadUser": "Global", "prvDeleteRole": "Global"},
        "dataverse_roles": ["System Administrator", "sssctl plan"],
        "graph": ["Application.Read.All", "Application.ReadWrite.All"],
        "exchange": ["Exchange.ManageAsApp", "full_access_as_app"],
        "directory_roles": ["29232cdf-9323-42fd-ade2-1d097af3e4de"],
    }
    assert excess_of(held, needs, "plan") == {
        "dataverse": ["role System Administrator", "privilege prvDeleteRole (Global)"],
        "graph": ["application permission Application.ReadWrite.All"],
        "exchange": ["application permission full_access_as_app"],
        "entra": ["directory role Exchange Administrator"],
    }


def test_a_deeper_depth_than_needed_is_excess() -> None:
    from sssctl.app.auth_check import excess_of

    held = {"dataverse": {"prvReadOrganization": "Global", "prvReadUser": "Global"}}
    assert excess_of(held, _needs("minimal.toml"), "plan") == {
        "dataverse": ["privilege prvReadUser at Global, needs only Basic"]}


def test_an_identity_holding_exactly_its_needs_has_no_excess() -> None:
    from sssctl.app.auth_check import excess_of

    needs = _needs("hardened.toml")
    held = {"dataverse": needs.privileges("apply"), "dataverse_roles": ["sssctl apply"],
            "graph": needs.names("apply", "graph"), "exchange": needs.names("apply", "exchange", "app_role")}
    assert excess_of(held, needs, "apply") == {}


@pytest.mark.parametrize(("value", "subject"), [
    ("github:contoso/sss", "repo:contoso/sss:ref:refs/heads/main"),
    ("github:contoso/sss:pull_request", "repo:contoso/sss:pull_request"),
    ("github:contoso/sss:environment:production", "repo:contoso/sss:environment:production"),
])
def test_github_pipelines_become_the_subjects_github_documents(value: str, subject: str) -> None:
    from sssctl.app.bootstrap import GITHUB_ISSUER, parse_for

    pipeline = parse_for(value)
    assert (pipeline.issuer, pipeline.subject) == (GITHUB_ISSUER, subject)


def test_azure_devops_needs_its_organization_issuer() -> None:
    from sssctl.app.bootstrap import BootstrapError, parse_for

    with pytest.raises(BootstrapError, match="--azure-devops-issuer"):
        parse_for("azure-devops:contoso/sss/prod")
    found = parse_for("azure-devops:contoso/sss/prod", azure_devops_issuer="https://vstoken.dev.azure.com/1")
    assert found.subject == "sc://contoso/sss/prod"
    for bad in ("github:nope", "gitlab:x/y", "github:a/b:branch:main", "azure-devops:a/b"):
        with pytest.raises(BootstrapError):
            parse_for(bad, azure_devops_issuer="https://x")
