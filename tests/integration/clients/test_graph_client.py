"""Graph specifics against the emulator: directory replication lag and error mapping."""

from __future__ import annotations

import uuid

import pytest

from sssctl.clients.errors import GraphConflict, GraphNotFound
from sssctl.clients.session import open_clients
from sssctl.emulator.admin_client import AdminClient
from sssctl.emulator.info import EmulatorInfo

from .conftest import RecordingSleep, emulator_desired, fast_options, secret_environ

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_a_new_application_is_waited_for_until_it_replicates(emulator: EmulatorInfo,
                                                             calm: AdminClient) -> None:
    sleep = RecordingSleep()
    with open_clients(emulator_desired(emulator), need_graph=True, environ=secret_environ(emulator),
                      options=fast_options(sleep)) as clients:
        graph = clients.graph
        assert graph is not None
        graph.get(f"servicePrincipals(appId='{emulator.client_id}')")  # signed in before the knob
        calm.faults(replication_delay=3)
        created = graph.post("applications", {"displayName": f"sssctl-test-{uuid.uuid4().hex[:8]}"})
        assert created is not None
        object_id = created["id"]
        try:
            with pytest.raises(GraphNotFound) as caught:
                graph.get(f"applications/{object_id}")
            assert caught.value.code == "Request_ResourceNotFound" and caught.value.request_id
            app = graph.get(f"applications/{object_id}", wait_for_replication=True)
            assert app["id"] == object_id
            assert sleep.calls == [0.5, 1.0]  # two more invisible reads, then it appeared
        finally:
            calm.faults(replication_delay=0)
            graph.delete(f"applications/{object_id}")


def test_duplicate_service_principal_is_a_conflict(emulator: EmulatorInfo) -> None:
    desired = emulator_desired(emulator)
    with open_clients(desired, need_graph=True, environ=secret_environ(emulator)) as clients:
        assert clients.graph is not None
        with pytest.raises(GraphConflict) as caught:
            clients.graph.post("servicePrincipals", {"appId": emulator.client_id})
        assert caught.value.status == 409 and caught.value.code
