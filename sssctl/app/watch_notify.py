"""What ``sssctl watch`` tells people after a cycle that changed something.

The event (one per cycle that reverted or failed to revert something) is the contract a
webhook receiver codes against; its schema is ``sssctl.watch.cycle/v1``::

    {"schema": "sssctl.watch.cycle/v1", "environment": "<name>", "organization_id": "<guid>",
     "cycle": 12, "started_at": "<ISO 8601>", "finished_at": "<ISO 8601>",
     "reverted": [{"address": "mailboxes", "kind": "mailboxes", "count": 3, "status": "applied",
                   "rows": [{"row": "<id>", "name": "<address or UPN>",
                             "old": {"incoming_email": "none"}, "new": {"incoming_email": "server_side_sync"},
                             "changed_by": {"id": "<systemuser id>", "upn": "...", "name": "..."},
                             "changed_on": "<ISO 8601>", "drift_seconds": 4.0}]}],
     "failed": [{"address": "user_settings", "error": "..."}],
     "unknown": [{"address": "mailboxes", "reason": "outcome unknown, the reply failed its model ..."}],
     "reported": [{"address": "org_setting.X", "reason": "..."}]}

``rows`` names at most the first 50 rows of a change; ``count`` is how many it had.
``unknown`` lists reverts whose answer could not be used (or that waited on such a one):
they may have taken effect, so they are read back next cycle rather than called failed.

Notifications never stand between drift and its revert: they are sent after the writes,
each failure is logged and counted, and retries stop at the cycle's budget. The email to
the user who made the change is what Control 3's revert flow sends: an ``email``
activity from the configured queue or mailbox to that user, sent with ``SendEmail``
[doc: learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/email,
.../activityparty-entity (participation types 1 sender, 2 to), SendEmail action].
The email is not set regarding the mailbox: ``mailbox`` does not appear to be an
activity-enabled table (no ``regardingobjectid_mailbox_email`` navigation is documented
on the email entity; an inference, not checked against a live organization), so the
mailbox is named in the subject and body instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from sssctl.clients.dataverse import DataverseClient
from sssctl.config.model import WatchPolicy

log = structlog.get_logger(__name__)

SCHEMA = "sssctl.watch.cycle/v1"
_ATTEMPTS = 3


@dataclass
class Delivery:
    """How notifying went this cycle, for metrics and the log."""

    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _retrying(what: str, send: Callable[[], None], deadline: float, delivery: Delivery) -> None:
    """Up to three attempts, doubling the pause, never past ``deadline`` (monotonic)."""
    pause = 0.5
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            send()
            delivery.sent += 1
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("watch.notify.failed", target=what, attempt=attempt, error=error)
            if attempt == _ATTEMPTS or time.monotonic() + pause >= deadline:
                delivery.failed += 1
                delivery.errors.append(f"{what}: {error}")
                return
            time.sleep(pause)
            pause *= 2


def post_webhook(url: str, event: Mapping[str, Any], *, deadline: float, delivery: Delivery,
                 verify: Any = True) -> None:
    def send() -> None:
        timeout = max(1.0, min(10.0, deadline - time.monotonic()))
        response = httpx.post(url, json=dict(event), timeout=timeout, verify=verify,
                              headers={"User-Agent": "sssctl-watch"})
        response.raise_for_status()

    _retrying("webhook", send, deadline, delivery)


class UserMail:
    """Emails each user whose change was reverted, from the configured queue or mailbox."""

    def __init__(self, dataverse: DataverseClient, sender_address: str, own_user_id: str | None) -> None:
        self.dataverse = dataverse
        self.sender_address = sender_address
        self.own_user_id = (own_user_id or "").lower()
        self._sender: str | None = None

    def sender_bind(self) -> str:
        """``partyid_queue@odata.bind`` or ``partyid_systemuser@odata.bind`` for the sender, found once."""
        if self._sender is None:
            quoted = self.sender_address.replace("'", "''")
            queues = list(self.dataverse.query("queues", select=["queueid"],
                                               filter=f"emailaddress eq '{quoted}'", top=1))
            if queues:
                self._sender = f"partyid_queue@odata.bind=/queues({queues[0]['queueid']})"
            else:
                users = list(self.dataverse.query("systemusers", select=["systemuserid"],
                                                  filter=f"internalemailaddress eq '{quoted}'", top=1))
                if not users:
                    raise LookupError(f"no queue or user has the address {self.sender_address} "
                                      "([watch] notify.from)")
                self._sender = f"partyid_systemuser@odata.bind=/systemusers({users[0]['systemuserid']})"
        return self._sender

    def send(self, user_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
        bind, _, target = self.sender_bind().partition("=")
        names = sorted({str(r.get("name")) for r in rows})
        lines = [f"- {r.get('name')}: "
                 + ", ".join(f"{k} {r['old'].get(k)} -> {v}" for k, v in r["new"].items()) for r in rows]
        email_id = self.dataverse.create("emails", {
            "subject": f"Your email synchronization settings were reset ({', '.join(names)[:150]})",
            "description": "Your change to these settings was reverted to the organization's policy:\n"
                           + "\n".join(lines),
            "email_activity_parties": [
                {"participationtypemask": 1, bind: target},
                {"participationtypemask": 2, "partyid_systemuser@odata.bind": f"/systemusers({user_id})"},
            ],
        })
        self.dataverse.action("SendEmail", {"IssueSend": True, "TrackingToken": ""},
                              bound=("emails", email_id))


def by_author(event: Mapping[str, Any], own_user_id: str | None) -> dict[str, list[Mapping[str, Any]]]:
    """Reverted rows per user who changed them; sssctl's own writes and unknown authors left out."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    own = (own_user_id or "").lower()
    for change in event.get("reverted", ()):
        if change.get("status") != "applied":
            continue
        for row in change.get("rows", ()):
            author = str((row.get("changed_by") or {}).get("id") or "").lower()
            if author and author != own:
                grouped.setdefault(author, []).append(row)
    return grouped


def _sending(mail: UserMail, user_id: str, rows: Sequence[Mapping[str, Any]]) -> Callable[[], None]:
    return lambda: mail.send(user_id, rows)


def notify(policy: WatchPolicy, event: Mapping[str, Any], *, mail: UserMail | None, deadline: float,
           verify: Any = True) -> Delivery:
    delivery = Delivery()
    if policy.webhook:
        post_webhook(policy.webhook, event, deadline=deadline, delivery=delivery, verify=verify)
    if policy.email_user and mail is not None:
        for user_id, rows in by_author(event, mail.own_user_id).items():
            _retrying(f"email to {user_id}", _sending(mail, user_id, rows), deadline, delivery)
    return delivery
