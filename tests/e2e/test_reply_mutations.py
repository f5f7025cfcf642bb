"""Malformed replies through the CLI: a reply that fails its model is never a write.

The emulator's test-only ``mutate_*`` knobs change one field of the answers to one route
(null, wrong type, missing, empty, an extra level of nesting), so each case is exact and
repeatable. Two situations matter: a converged environment, where any write caused by a
bad read would be a change nobody asked for, and a first apply, where the new secret's
``addPassword`` answer decides whether mailboxes move onto a profile that can sign in.
Every field of every model is covered at unit level
(``tests/unit/clients/test_reply_models.py``); these cases prove the wiring end to end.
"""

from __future__ import annotations

from typing import Any

import pytest

from sssctl.emulator.admin_client import AdminClient
from tests.e2e.conftest import Cli
from tests.e2e.test_fail_closed import (
    HARDENED,
    PROFILE,
    default_profile_active,
    mailboxes_on_custom_profile,
    ran,
    tables,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

GRAPH = "/graph/v1.0/"
DATAVERSE = "/dataverse/api/data/v9.2/"
EXCHANGE = "/exchange/adminapi/"


@pytest.fixture
def hardened(cli: Cli) -> Cli:
    cli.config.write_text(HARDENED.read_text(encoding="utf-8"), encoding="utf-8")
    return cli


@pytest.mark.parametrize("keyid", ["null", "<missing>"])
def test_an_add_password_answer_without_a_usable_key_id_moves_nothing(
        hardened: Cli, admin: AdminClient, keyid: str) -> None:
    admin.faults(mutate_route=GRAPH + "applications/", mutate_method="POST",
                 mutate_field="keyId", mutate_to=keyid)

    failed = hardened.run("apply", "--auto-approve")

    # The answer failed its model, so what it concerns is unknown (exit 3), not failed: the
    # next plan reads it back; the kinds that depend on it are skipped, nothing written.
    output = failed.stdout + failed.stderr
    assert failed.returncode == 3, output[-3000:]
    assert "keyId" in output and "Traceback" not in output
    assert "unknown" in output and "graph" in output
    assert default_profile_active(admin)
    assert mailboxes_on_custom_profile(admin) == 0
    profiles = tables(admin)["emailserverprofile"]
    assert not any(p["name"] == PROFILE and p.get("oauthclientsecret") for p in profiles)
    # The secret that was made is not removed by the run that made it: the next run, told
    # the truth, gives the profile a fresh one and converges.
    admin.clear_faults()
    ran(hardened.run("apply", "--auto-approve"))
    assert not default_profile_active(admin)
    ran(hardened.run("plan", "--detailed-exitcode"))


CONVERGED_READS: list[tuple[str, str, str, str]] = [
    # (route prefix, text the request must hold, field, new value): Graph, Dataverse and
    # Exchange reads each meet a wrong-typed, a null and an empty value; every field of
    # every model meets all five mutations at unit level, where it costs milliseconds
    (GRAPH + "applications(", "", "passwordCredentials.0.keyId", "null"),
    (GRAPH + "servicePrincipals", "", "appRoles.*.value", "null"),
    (GRAPH + "servicePrincipals", "", "value.0.appRoleId", '"None"'),
    (DATAVERSE + "mailboxes", "", "value.*._emailserverprofile_value", '"None"'),
    (DATAVERSE + "emailserverprofiles", "", "value.0.isoauthclientsecretset", '"true"'),
    (EXCHANGE, "Get-ApplicationAccessPolicy", "value.0.Identity", '""'),
]


@pytest.fixture
def converged(hardened: Cli, admin: AdminClient) -> Cli:
    ran(hardened.run("apply", "--auto-approve"))
    return hardened


@pytest.mark.parametrize(("route", "request_holds", "field", "to"), CONVERGED_READS,
                         ids=[f"{r.rsplit('/', 1)[-1] or r}-{f}-{t}" for r, _, f, t in CONVERGED_READS])
def test_a_malformed_read_of_a_converged_environment_writes_nothing(
        converged: Cli, admin: AdminClient, route: str, request_holds: str, field: str, to: str) -> None:
    admin.faults(mutate_route=route, mutate_method="" if route == EXCHANGE else "GET",
                 mutate_request_contains=request_holds, mutate_field=field, mutate_to=to)
    admin.reset_counters()

    result = converged.run("apply", "--auto-approve")

    output: Any = result.stdout + result.stderr
    assert admin.counters()["writes"] == 0, output[-3000:]
    assert "Traceback" not in output
    # Either the reply did not concern what the plan decides (nothing to do), or it made
    # something unknown: exit 3 with the service named. Never a fake success.
    assert result.returncode in (0, 3), output[-3000:]
    if result.returncode == 3:
        assert any(s in output for s in ("graph:", "dataverse:", "exchange:")), output[-3000:]


USER_SETTINGS = '\n[user_settings]\nincoming_email_filtering = "email_enabled_records"\n'


@pytest.mark.parametrize(("table", "id_column", "field", "unknown_as"), [
    ("mailboxes", "mailboxid", "incomingemaildeliverymethod", "mailboxes"),
    ("usersettingscollection", "systemuserid", "incomingemailfilteringmethod", "user_settings"),
])
def test_one_malformed_row_leaves_only_its_object_unknown_and_nothing_is_written(
        cli: Cli, admin: AdminClient, table: str, id_column: str, field: str, unknown_as: str) -> None:
    cli.config.write_text(cli.config.read_text(encoding="utf-8") + USER_SETTINGS, encoding="utf-8")
    # The first row of every page has a wrong-typed value; its id is fine, so the row still
    # says which object it is: that object alone is unknown, the others are planned.
    admin.faults(mutate_route=DATAVERSE + table, mutate_method="GET",
                 mutate_field=f"value.0.{field}", mutate_to='"None"')
    admin.reset_counters()

    planned = cli.run("plan")
    applied = cli.run("apply", "--auto-approve")

    output = planned.stdout + planned.stderr
    assert planned.returncode == 3, output[-3000:]
    assert f'? {unknown_as}["' in planned.stdout and field in planned.stdout
    assert f"~ {unknown_as}\n" in planned.stdout          # the other rows are still planned
    assert "1 unknown" in planned.stdout and "Traceback" not in output
    # An incomplete plan is never applied: the unknown object, and the rest, wait for a
    # complete read.
    assert applied.returncode == 3, (applied.stdout + applied.stderr)[-3000:]
    assert f'{unknown_as}["' in applied.stderr
    assert admin.counters()["writes"] == 0
    admin.clear_faults()
    ran(cli.run("apply", "--auto-approve"))         # read whole again, it converges
