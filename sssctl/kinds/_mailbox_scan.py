"""The server-side scan of mailboxes: which differ from the defaults, which synchronize
through a profile, which are queues'.

The ``mailboxes`` kind reverts what the scan finds; the default profile's guard asks
it whether mailboxes still synchronize through the profile it would deactivate. One
scan per run serves both (a shared read), so it lives here rather than in either kind.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from sssctl.config.model import Desired, MailboxPolicy
from sssctl.engine.kind import Context
from sssctl.engine.spool import RowSpool
from sssctl.kinds._control5 import leaving_profiles
from sssctl.kinds._defaults_reads import live_defaults, managed_fields, restored_fields, wanted_profile
from sssctl.kinds._rows import (
    SAMPLE_SIZE,
    UnreadRows,
    reading,
)
from sssctl.kinds._shared import (
    ACT,
    INCOMING_EMAIL,
    OUTGOING_EMAIL,
    PAGE_SIZE,
    label_of,
    read_organization,
    read_profiles,
    read_together,
)

log = structlog.get_logger(__name__)


ADDRESS = "mailboxes"


QUEUES_IN_FILTER = 50  # beyond this the URL grows long; tell queues apart after reading


COLUMNS = (
    "mailboxid",
    "emailaddress",
    "incomingemaildeliverymethod",
    "outgoingemaildeliverymethod",
    "actdeliverymethod",
    "_emailserverprofile_value",
    "_regardingobjectid_value",
)


# Row layout inside Change.detail["rows"], a RowSpool (compact: 50k rows travel in saved plans).
ROW_ID, ROW_ETAG, ROW_KIND, ROW_ADDRESS, ROW_PROFILE = range(5)


def reverts(desired: Desired) -> bool:
    """Whether the policy writes mailboxes (``report`` only reads them)."""
    return desired.mailboxes is not None and desired.mailboxes.enforce == "defaults"


def enforced(desired: Desired) -> bool:
    return desired.mailboxes is not None and desired.mailboxes.enforce != "off"


def target_defaults(ctx: Context) -> dict[str, Any]:
    """The org defaults as they will be after this plan, as option values + profile."""
    live, facts = live_defaults(ctx)
    merged = dict(live)
    merged.update(managed_fields(ctx.desired.mailbox_defaults))
    merged.update(restored_fields(ctx.desired, ctx.state.get("mailbox_defaults")))
    if merged.get("server_profile"):
        merged["server_profile"] = wanted_profile(str(merged["server_profile"]), facts.get("builtin_name"))
    profiles = read_profiles(ctx)
    name = str(merged.get("server_profile") or "").lower()
    matches = [p for p in profiles if str(p.get("name", "")).lower() == name]
    return {
        "incoming": INCOMING_EMAIL.get(str(merged.get("incoming_email"))),
        "outgoing": OUTGOING_EMAIL.get(str(merged.get("outgoing_email"))),
        "act": ACT.get(str(merged.get("appointments_contacts_tasks"))),
        "profile_name": merged.get("server_profile"),
        "profile_id": str(matches[0]["emailserverprofileid"]).lower() if len(matches) == 1 else None,
        "labels": {
            f: merged.get(f)
            for f in ("server_profile", "incoming_email", "outgoing_email", "appointments_contacts_tasks")
        },
    }


def drift_filter(target: Mapping[str, Any], *, with_act: bool = True) -> str | None:
    """The server-side ``$filter`` selecting mailboxes that differ from ``target``.

    ``None`` means every mailbox differs: the target profile does not exist yet (it is
    created earlier in the same apply), so no mailbox can already point at it.
    ``with_act=False`` for queue mailboxes, which have no ACT synchronization.
    """
    if target["profile_name"] and target["profile_id"] is None:
        return None
    clauses = []
    for column, key in (
        ("incomingemaildeliverymethod", "incoming"),
        ("outgoingemaildeliverymethod", "outgoing"),
        ("actdeliverymethod", "act"),
    ):
        if target[key] is not None and (with_act or key != "act"):
            clauses.append(f"{column} ne {int(target[key])}")
    if target["profile_id"] is not None:
        # Dataverse's "ne" never matches null, so a mailbox without a profile needs its own clause.
        clauses.append(f"_emailserverprofile_value ne {target['profile_id']}")
        clauses.append("_emailserverprofile_value eq null")
    return " or ".join(clauses) if clauses else "mailboxid eq null"


def scope_filter(policy: MailboxPolicy, target: Mapping[str, Any], queues: frozenset[str]) -> str | None:
    """The full ``$filter``: drift, narrowed to queue mailboxes on the server when that is cheap.

    With ``scope = "queues"`` and a modest number of queues the regarding ids are listed in
    the filter (plain ``eq``/``or``, understood everywhere), so user mailboxes never travel.
    Otherwise users and queues are told apart after reading, which costs only the few
    queue rows.
    """
    if policy.scope != "queues" or len(queues) > QUEUES_IN_FILTER:
        return drift_filter(target)
    drift = drift_filter(target, with_act=False)
    regarding = " or ".join(f"_regardingobjectid_value eq {q}" for q in sorted(queues))
    return f"({regarding})" if drift is None else f"({drift}) and ({regarding})"


def drift_reasons(row: Mapping[str, Any], is_user: bool, target: Mapping[str, Any]) -> list[str]:
    reasons = []
    if target["incoming"] is not None and row.get("incomingemaildeliverymethod") != target["incoming"]:
        reasons.append("incoming_email")
    if target["outgoing"] is not None and row.get("outgoingemaildeliverymethod") != target["outgoing"]:
        reasons.append("outgoing_email")
    if is_user and target["act"] is not None and row.get("actdeliverymethod") != target["act"]:
        reasons.append("appointments_contacts_tasks")
    profile = str(row.get("_emailserverprofile_value") or "").lower()
    if target["profile_name"] and profile != (target["profile_id"] or ""):
        reasons.append("server_profile")
    return reasons


def synchronizes(row: Mapping[str, Any], is_user: bool) -> bool:
    """Whether a mailbox uses its profile at all: some delivery method is not "none"."""
    return (
        row.get("incomingemaildeliverymethod") not in (None, INCOMING_EMAIL["none"])
        or row.get("outgoingemaildeliverymethod") not in (None, OUTGOING_EMAIL["none"])
        or (is_user and row.get("actdeliverymethod") not in (None, ACT["none"]))
    )


def queue_ids(ctx: Context) -> frozenset[str]:
    """Ids of every queue (a small table), read once per run for every kind that asks."""
    return ctx.reads.get(
        "queues",
        lambda: frozenset(
            str(q["queueid"]).lower()
            for q in ctx.dataverse.query("queues", select=["queueid"], page_size=PAGE_SIZE)
        ),
    )


def in_scope(policy: MailboxPolicy, is_user: bool) -> bool:
    return policy.scope == "all" or (policy.scope == "users") == is_user


def scan(ctx: Context, policy: MailboxPolicy, target: Mapping[str, Any], *,
         only_on: Iterable[str] = ()) -> dict[str, Any]:
    """Stream the drifted mailboxes and summarise them (counts, sample, compact rows).

    ``only_on`` narrows the pass to mailboxes on those profiles (ids).
    """
    queues = queue_ids(ctx)
    excluded = {address.strip().lower() for address in policy.exclude}
    reasons: Counter[str] = Counter()
    rows = RowSpool()
    moved_from: Counter[str] = Counter()
    leaving: Counter[str] = Counter()
    synchronizing: Counter[str] = Counter()
    skipped_excluded = 0
    if policy.scope == "queues" and not queues:
        return {"rows": [], "by_reason": {}, "moved_from": {}, "excluded_drifted": 0, "synchronizing": {},
                "leaving": {}}
    narrowed = " or ".join(f"_emailserverprofile_value eq {p}" for p in sorted(only_on))
    unread = UnreadRows("mailboxid", name=lambda row: row.get("emailaddress"),
                        skip=lambda row: not_ours(row, policy, queues, excluded))
    stream: Iterable[dict[str, Any]] = ctx.dataverse.query(
        "mailboxes", select=list(COLUMNS), filter=narrowed or scope_filter(policy, target, queues),
        page_size=PAGE_SIZE, malformed_row=unread,
    )
    for row in stream:
        is_user = str(row.get("_regardingobjectid_value") or "").lower() not in queues
        if synchronizes(row, is_user):
            synchronizing[str(row.get("_emailserverprofile_value") or "").lower()] += 1
        if not in_scope(policy, is_user):
            continue
        why = drift_reasons(row, is_user, target)
        if not why:
            continue
        address = str(row.get("emailaddress") or row["mailboxid"])
        if address.lower() in excluded:
            skipped_excluded += 1
            continue
        reasons.update(why)
        profile = str(row.get("_emailserverprofile_value") or "").lower()
        if synchronizes(row, is_user):
            moved_from[profile] += 1
        if "server_profile" in why:
            leaving[profile] += 1
        rows.append(
            [
                str(row["mailboxid"]),
                row.get("@odata.etag"),
                "user" if is_user else "queue",
                address,
                "server_profile" in why,
            ]
        )
        reading(ctx, "read mailboxes", len(rows))
    return {
        "rows": rows,
        "by_reason": dict(sorted(reasons.items())),
        "moved_from": dict(moved_from),
        "excluded_drifted": skipped_excluded,
        "synchronizing": dict(synchronizing),
        "leaving": dict(leaving),
        "unread": unread.rows,
    }


def not_ours(row: Mapping[str, Any], policy: MailboxPolicy, queues: frozenset[str],
             excluded: set[str]) -> bool:
    """Whether a row that failed its model is still plainly outside the policy (excluded by
    address, or a queue's mailbox when the scope is users, or the other way round); only its
    well-formed columns are believed, so a row whose scope cannot be told is never skipped."""
    address, regarding = row.get("emailaddress"), row.get("_regardingobjectid_value")
    if isinstance(address, str) and address.strip().lower() in excluded:
        return True
    if regarding is not None and not isinstance(regarding, str):
        return False
    return not in_scope(policy, str(regarding or "").lower() not in queues)


def shared_scan(ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's one pass over the drifted mailboxes: (target defaults, what was found).

    The default profile kind needs mailbox rows too (who still synchronizes through it);
    when this pass already streams them it counts from here instead of paging the table
    a second time.
    """
    policy = ctx.desired.mailboxes
    if policy is None or policy.enforce == "off":
        raise LookupError("mailboxes are not enforced by this config")

    def load() -> tuple[dict[str, Any], dict[str, Any]]:
        read_together(ctx, read_organization, read_profiles, queue_ids)   # none needs another
        target = target_defaults(ctx)
        return target, scan(ctx, policy, target)

    return ctx.reads.get("mailbox_scan", load)


def synchronizing_on(ctx: Context, profile_id: str) -> int | None:
    """Mailboxes synchronizing through ``profile_id``, if the shared pass sees all of them.

    It does when it streams every mailbox (the target profile does not exist yet) or
    every mailbox off the target profile, and the scope is not narrowed to queues on the
    server. ``None``: the caller must count by itself.
    """
    policy = ctx.desired.mailboxes
    if policy is None or policy.enforce == "off":
        return None
    target = target_defaults(ctx)
    narrowed = policy.scope == "queues" and len(queue_ids(ctx)) <= QUEUES_IN_FILTER
    off_target = target["profile_id"] is not None and target["profile_id"] != profile_id.lower()
    if narrowed or not (drift_filter(target) is None or off_target):
        return None
    _, found = shared_scan(ctx)
    if found.get("unread"):
        return None     # a mailbox it could not read may synchronize through the profile
    return int(found.get("synchronizing", {}).get(profile_id.lower(), 0))


def let_go_scan(ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """The policy left the config, but its mailboxes sit on a custom profile this plan deletes.

    They must not be left on a profile that is gone (nor on an app about to be deleted), so
    they move, within the scope the policy had, to the organization default as it will be
    after this plan; their delivery methods stay as they are.
    """
    managed = (ctx.state.get(ADDRESS) or {}).get("managed") or {}
    leaving = leaving_profiles(ctx)
    scope = managed.get("scope")
    target = dict(target_defaults(ctx), incoming=None, outgoing=None, act=None)
    extra = {"target": target, "let_go": sorted(set(leaving.values()))}
    empty: dict[str, Any] = {"rows": []}
    if scope not in ("users", "queues", "all") or target["profile_id"] in (None, *leaving):
        return empty, extra   # nowhere safe to move them: the profile's guard refuses deleting it
    exclude = tuple(str(a) for a in managed.get("exclude") or ())
    policy = MailboxPolicy(enforce="defaults", scope=scope, exclude=exclude)
    return scan(ctx, policy, target, only_on=leaving), extra


def summary(found: Mapping[str, Any]) -> dict[str, Any]:
    rows = found["rows"]
    return {
        "drifted": len(rows),
        "by_reason": found["by_reason"],
        "sample": heapq.nsmallest(SAMPLE_SIZE, (str(r[ROW_ADDRESS]) for r in rows)),
    }


def census(ctx: Context) -> dict[str, Any]:
    """Which kinds of mailbox exist, and how their settings are distributed.

    One pass over every mailbox (a few columns, pages of 5,000), counting each combination
    of delivery methods and profile per kind of mailbox: what ``diff`` compares, since
    format v1 can only describe the policy, not what each mailbox is set to. Profiles go
    by name, not id, so two environments compare; queues carry no ACT.
    """
    queues = queue_ids(ctx)
    names = {str(p["emailserverprofileid"]).lower(): str(p.get("name") or p["emailserverprofileid"])
             for p in read_profiles(ctx)}
    counted: dict[str, Counter[str]] = {"users": Counter(), "queues": Counter()}
    rows = ctx.dataverse.query("mailboxes", select=list(COLUMNS[2:]), page_size=PAGE_SIZE)
    for total, row in enumerate(rows, start=1):
        is_user = str(row.get("_regardingobjectid_value") or "").lower() not in queues
        fields = [("incoming_email", label_of(INCOMING_EMAIL, row.get("incomingemaildeliverymethod"))),
                  ("outgoing_email", label_of(OUTGOING_EMAIL, row.get("outgoingemaildeliverymethod")))]
        if is_user:
            fields.append(("appointments_contacts_tasks", label_of(ACT, row.get("actdeliverymethod"))))
        profile = str(row.get("_emailserverprofile_value") or "").lower()
        fields.append(("server_profile", names.get(profile, profile) or None))
        counted["users" if is_user else "queues"][", ".join(f"{k}={v or 'unset'}" for k, v in fields)] += 1
        reading(ctx, "count mailboxes", total)
    distribution = {kind: dict(sorted(c.items())) for kind, c in counted.items() if c}
    return {"users": bool(counted["users"]), "queues": bool(queues), "distribution": distribution}
