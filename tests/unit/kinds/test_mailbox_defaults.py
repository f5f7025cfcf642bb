from __future__ import annotations

import pytest

from sssctl.config.model import MailboxDefaults
from sssctl.engine.plan import Action
from sssctl.kinds.mailbox_defaults import KIND
from tests.unit.kinds.world import CUSTOM_PROFILE, DEFAULT_PROFILE, ORG, Engine, actionable, desired, seed

pytestmark = pytest.mark.timeout(30)


def test_live_defaults_read_in_user_words_with_act_numbering() -> None:
    engine = Engine(seed())
    want = desired(
        mailbox_defaults=MailboxDefaults(
            server_profile="default",
            incoming_email="server_side_sync",
            outgoing_email="server_side_sync",
            appointments_contacts_tasks="server_side_sync",  # stored as ACT 1, incoming/outgoing as 2
        )
    )
    (change,) = engine.plan(KIND, want)
    assert change.action is Action.NOOP
    assert change.before == {
        "server_profile": "Microsoft Exchange Online",
        "incoming_email": "server_side_sync",
        "outgoing_email": "server_side_sync",
        "appointments_contacts_tasks": "server_side_sync",
    }


def test_update_rewrites_only_managed_elements_and_binds_the_profile_by_name() -> None:
    engine = Engine(seed())
    want = desired(
        mailbox_defaults=MailboxDefaults(server_profile="contoso exo", appointments_contacts_tasks="none")
    )
    (change,) = engine.plan(KIND, want)
    assert change.before == {
        "server_profile": "Microsoft Exchange Online",
        "appointments_contacts_tasks": "server_side_sync",
    }
    engine.apply(KIND, want)
    org = engine.dv.row("organizations", ORG)
    assert org["defaultemailsettings"] == (
        "<EmailSettings><IncomingEmailDeliveryMethod>2</IncomingEmailDeliveryMethod>"
        "<OutgoingEmailDeliveryMethod>2</OutgoingEmailDeliveryMethod>"
        "<ACTDeliveryMethod>2</ACTDeliveryMethod><Extra>keep</Extra></EmailSettings>"
    )
    assert org["_defaultemailserverprofileid_value"] == CUSTOM_PROFILE
    assert actionable(engine.plan(KIND, want)) == []


def test_a_profile_created_later_in_the_run_is_resolved_at_apply_time() -> None:
    engine = Engine(seed())
    want = desired(mailbox_defaults=MailboxDefaults(server_profile="Brand New"))
    ctx = engine.context(want)
    (change,) = KIND.diff(want, KIND.read(ctx))
    assert change.after == {"server_profile": "Brand New"}
    with pytest.raises(LookupError, match="Brand New"):
        KIND.apply(ctx, change)
    engine.dv.add(
        "emailserverprofiles", {"emailserverprofileid": "new-id", "name": "Brand New", "statecode": 0}
    )
    KIND.apply(ctx, change)
    assert engine.dv.row("organizations", ORG)["_defaultemailserverprofileid_value"] == "new-id"


def test_removed_section_restores_the_original_defaults() -> None:
    engine = Engine(seed())
    engine.apply(
        KIND, desired(mailbox_defaults=MailboxDefaults(server_profile="Contoso EXO", incoming_email="none"))
    )
    engine.apply(KIND, desired())
    org = engine.dv.row("organizations", ORG)
    assert org["_defaultemailserverprofileid_value"] == DEFAULT_PROFILE
    assert "<IncomingEmailDeliveryMethod>2</IncomingEmailDeliveryMethod>" in org["defaultemailsettings"]
    assert engine.state == {}


def test_a_field_dropped_from_the_config_goes_back_to_its_original_value() -> None:
    engine = Engine(seed())
    engine.apply(KIND, desired(mailbox_defaults=MailboxDefaults(server_profile="Contoso EXO",
                                                                  incoming_email="server_side_sync")))
    lockdown = desired(mailbox_defaults=MailboxDefaults(incoming_email="none"))
    (change,) = engine.plan(KIND, lockdown)
    assert change.after == {"incoming_email": "none", "server_profile": "Microsoft Exchange Online"}
    assert "go back to 'Microsoft Exchange Online'" in change.reason
    engine.apply(KIND, lockdown)
    assert engine.dv.row("organizations", ORG)["_defaultemailserverprofileid_value"] == DEFAULT_PROFILE
    assert engine.state["mailbox_defaults"]["managed"] == {"incoming_email": "none"}
    (again,) = engine.plan(KIND, lockdown)
    assert again.action is Action.NOOP
