"""Email activities: their parties (deep insert) and the ``SendEmail`` bound action.

Documented shape [doc: learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/email,
.../reference/activityparty, .../activityparty-entity, and the SendEmail action page]:

* An email is created with ``POST emails`` whose body may carry ``email_activity_parties``,
  a list of activity parties, each with ``participationtypemask`` (1 Sender, 2 To, 3 Cc,
  4 Bcc) and the party bound as ``partyid_systemuser@odata.bind`` /
  ``partyid_queue@odata.bind`` (or an unresolved ``addressused``).
* ``POST emails(<id>)/Microsoft.Dynamics.CRM.SendEmail`` with ``IssueSend`` (send, or only
  mark as sent) and ``TrackingToken`` answers a ``SendEmailResponse`` carrying ``Subject``.

Guesses, to verify against a real organisation: the emulator delivers at once (status
Sent, 3) where the service moves an issued email to Pending Send (6) until server-side
synchronization sends it; an email that is not a draft, or has no sender or recipient,
gets 400 ``0x80040203`` with a message of its own. Sent mail is listed in the admin
snapshot under ``mail``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from .errors import INVALID_ARGUMENT, DataverseFault, bad_request
from .schema import ACTIVITYPARTY, PARTY_TYPES
from .store import Row, Store, now_iso
from .writes import resolve_reference

PARTIES = "email_activity_parties"
_PARTY_BINDS = {"partyid_systemuser@odata.bind": "systemuser", "partyid_queue@odata.bind": "queue"}
_ADDRESS_OF = {"systemuser": "internalemailaddress", "queue": "emailaddress"}
SENDER, TO = 1, 2
DRAFT, SENT = 1, 3


def add_parties(store: Store, email: Row, parties: Any, resolve_content_id: Callable[[str], str]) -> None:
    """Store the activity parties of a deep insert, each pointing at an existing user or queue."""
    if not isinstance(parties, list):
        raise bad_request(f"'{PARTIES}' must be a collection of activityparty objects.")
    for party in parties:
        if not isinstance(party, dict):
            raise bad_request(f"Each item of '{PARTIES}' must be an activityparty object.")
        mask = party.get("participationtypemask")
        if mask not in PARTY_TYPES:
            raise DataverseFault(400, INVALID_ARGUMENT,
                                 f"participationtypemask {mask!r} is not valid for an email activity party.")
        unknown = set(party) - set(_PARTY_BINDS) - {"participationtypemask", "addressused"}
        if unknown:
            raise bad_request(f"The property '{sorted(unknown)[0]}' does not exist on type "
                              "'Microsoft.Dynamics.CRM.activityparty'.")
        row: Row = {"activitypartyid": str(uuid.uuid4()), "_activityid_value": email["activityid"],
                    "_activityid_value@lt": "email", "participationtypemask": mask,
                    "_partyid_value": None, "addressused": party.get("addressused")}
        for bind, logical in _PARTY_BINDS.items():
            if bind not in party:
                continue
            entity_set, party_id = resolve_reference(str(party[bind]), resolve_content_id)
            target = store.get(logical, party_id)
            if target is None or not entity_set.startswith(logical):
                raise DataverseFault(404, "0x80040217", f"{logical} With Id = {party_id} Does Not Exist")
            row.update({"_partyid_value": party_id, "_partyid_value@lt": logical,
                        "addressused": row["addressused"] or target.get(_ADDRESS_OF[logical])})
        store.insert(ACTIVITYPARTY.logical, row["activitypartyid"], row)


def parties_of(store: Store, email_id: str) -> list[Row]:
    return [p for p in store.table(ACTIVITYPARTY.logical).values() if p["_activityid_value"] == email_id]


def send(store: Store, email: Row, body: dict[str, Any]) -> dict[str, Any]:
    """Send (or mark as sent) a draft email; the response body of ``SendEmail``."""
    issue = body.get("IssueSend")
    if not isinstance(issue, bool):
        raise bad_request("The parameter 'IssueSend' of the action 'SendEmail' must be a boolean.")
    if email.get("statecode") != 0 or email.get("statuscode") != DRAFT:
        raise DataverseFault(400, INVALID_ARGUMENT, "Only an email in the Draft status can be sent.")
    parties = parties_of(store, email["activityid"])
    senders = [p for p in parties if p["participationtypemask"] == SENDER]
    recipients = [p for p in parties if p["participationtypemask"] in (2, 3, 4)]
    if not senders or not recipients:
        raise DataverseFault(400, INVALID_ARGUMENT,
                             "An email needs a sender and at least one recipient to be sent.")
    store.update("email", email["activityid"], {
        "statecode": 1, "statuscode": SENT, "senton": now_iso(), "directioncode": True,
        "sender": senders[0].get("addressused"),
        "torecipients": ";".join(str(p.get("addressused")) for p in recipients
                                 if p["participationtypemask"] == TO),
    })
    return {"Subject": email.get("subject") or ""}


def sent_mail(store: Store) -> list[dict[str, Any]]:
    """Every sent email as a person would see it: from, to, subject, body, when."""
    mail = []
    for email in store.table("email").values():
        if email.get("statuscode") != SENT:
            continue
        parties = parties_of(store, email["activityid"])
        senders = [p.get("addressused") for p in parties if p["participationtypemask"] == SENDER]
        mail.append({
            "activityid": email["activityid"],
            "from": senders[0] if senders else None,
            "to": [p.get("addressused") for p in parties if p["participationtypemask"] == TO],
            "subject": email.get("subject"),
            "body": email.get("description"),
            "senton": email.get("senton"),
            "_createdby_value": email.get("_createdby_value"),
        })
    return sorted(mail, key=lambda m: (str(m["senton"]), str(m["activityid"])))
