"""What one kind hands to another within one apply: one small declared type per hand-off.

They live on ``ctx.handoffs`` (see :class:`sssctl.engine.kind.Handoffs`), keyed by the
app registration key or another name the two kinds share, and die with the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AppIds:
    """The app registration as created or updated this run (key: the app's config key).

    The custom profile and the mailbox scope need the app's id moments after it was
    created, before the directory would answer a read reliably.
    """

    app_id: str
    object_id: str


@dataclass(frozen=True)
class NewSecret:
    """A client secret created this run (key: the app's config key).

    Its text exists only here, in memory, between the app registration's credential change
    and the server profile change that stores it; state keeps only ``fingerprint``.
    """

    text: str
    fingerprint: Mapping[str, str]


@dataclass
class CreatedThisRun:
    """keyIds of the client secrets this run added to one app (key: the app's config key).

    A run never removes a secret it created itself: whatever a later step of the same run
    concludes about it (a reply that lost its keyId, a read that lags behind), the next
    run's fresh read decides, with the secret's holder known.
    """

    key_ids: set[str] = field(default_factory=set)


@dataclass
class SecretHolders:
    """Which custom profile now holds which secret of one app (key: the app's config key).

    Old secrets are removed only once every profile sharing the app holds the new one.
    """

    key_id_by_profile: dict[str, str] = field(default_factory=dict)


@dataclass
class OrganizationVersions:
    """ETags our own writes produced on the one organization row (key: ``"organization"``).

    Three kinds write that row one change after another, each planned at the same ETag;
    following this chain tells our own earlier write apart from anyone else's edit.
    """

    produced_from: dict[str, str] = field(default_factory=dict)


@dataclass
class MailboxVersions:
    """ETags our own writes gave single mailboxes earlier in the run (key: ``"mailboxes"``).

    The canary moves one mailbox before the mailbox policy reverts the rest, so the
    policy's planned ETag for that row is stale because of our own write; following this
    tells it apart from someone else's edit, which still makes If-Match refuse the row.
    """

    produced: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WrittenProfile:
    """A custom profile this run created or updated (key: its name, lower case).

    The canary, the mailbox defaults and the mailbox policy bind to it moments later, in
    the steps every mailbox move waits on. Its id came back with our own write, so asking
    Dataverse for it by name once more per step only added a request (and, when the
    service throttles, its Retry-After) to each of them.
    """

    profile_id: str


@dataclass(frozen=True)
class BuiltinProfile:
    """The built-in Exchange Online profile as the default-profile kind identified it (key: ``"builtin"``).

    ``profile_id`` is None when the environment has none. Absent altogether when that kind
    was not read or could not tell which profile is the built-in one: whoever needs it
    (the own-app audit check, which judges every other active profile) then reports that
    it could not judge, never that all is well.
    """

    profile_id: str | None


@dataclass(frozen=True)
class ProfileApps:
    """Which app registration each custom profile signs in with (key: ``"profiles"``).

    ``recorded``: profile address -> app key, as sssctl last applied it (the custom
    profile's own state); ``wanted``: profile address -> app key the config points it at.
    Left by the custom-profile kind before it reads anything, so the app registration's
    guard can tell whether deleting an app leaves a profile signing in with nothing.
    """

    recorded: Mapping[str, str]
    wanted: Mapping[str, str]


@dataclass(frozen=True)
class RetireAfterCanary:
    """Old mailbox grants the mailbox scope left in place when the app changes transport
    (EWS -> Graph): made by ``exchange_scope``, carried out by ``canary`` only once one
    mailbox passed Test & Enable over the new grants, so a failure leaves the old path
    working. It cannot be read instead: the plan's intent is what says which grants are old.

    ``revoke``: tenant-wide consents (``method = "access_policy"``); ``assignments``: Exchange
    role assignments as Exchange listed them (``method = "rbac"``).
    """

    revoke: tuple[Mapping[str, str], ...] = ()
    assignments: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class MailboxMoves:
    """What the mailbox policy's revert does to each profile (key: ``"mailboxes"``).

    Made by ``mailboxes`` when its pass over the drifted mailboxes ends; needed by the
    guards of the default profile (deactivating) and of the custom profile (deleting), which
    refuse unless the same plan moves every mailbox off the profile first. It cannot be read
    instead: the counts come from the one streamed pass over every drifted mailbox, which a
    guard (pure, no I/O) may not repeat. It says how far the revert reaches, not whether it
    happens: the guards ask the plan whether the ``mailboxes`` change is an update.

    ``to_profile``: the profile every reverted mailbox ends on (None: profiles stay as they
    are); ``stops_sync``: the revert sets every delivery method to none; ``reverted``:
    profile id -> reverted mailboxes that synchronize through it now; ``leaving``: profile
    id -> reverted mailboxes the revert moves to another profile. Ids are lower case.
    """

    to_profile: str | None
    stops_sync: bool
    reverted: Mapping[str, int] = field(default_factory=dict)
    leaving: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CanaryPlacements:
    """Which own-app profile each canary mailbox sits on as read (key: ``"canary"``).

    Made by ``canary`` when it reads; needed by the custom profile's guard: a canary's
    tear-down puts its mailbox back on the profile it had, which frees the profile the same
    plan deletes. It cannot be read instead: which mailbox is a canary is the canary kind's
    own knowledge (its config and state).

    ``on_profile``: canary address -> name of the profile its mailbox is on now; a canary
    whose mailbox is elsewhere, or could not be read, is absent.
    """

    on_profile: Mapping[str, str] = field(default_factory=dict)
