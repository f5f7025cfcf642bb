"""``privilege.<prvName>``: an allowlist of the roles that may hold one privilege.

Dataverse keeps one copy of each role per business unit; only the root copy can be
edited and the platform propagates the edit to the copies (reference §8.1). So this kind
reads and edits root copies only, and reports how many business-unit copies follow.

"Allowed" is not "required": a listed role that lacks the privilege is not given it, and
a role that keeps it keeps its depth. Role actions accept no If-Match, so a change here is
re-checked against the live roles when applied instead.

The plan's ``before``/``after`` map role names to depths (``{"Sales Manager": "Global"}``)
so the recorded original carries what a restore needs: ``AddPrivilegesRole`` with the
original depth on each role that lost the privilege.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from sssctl.clients.dataverse import BatchOperation
from sssctl.clients.errors import ClientError
from sssctl.config.model import Desired
from sssctl.engine.kind import Applied, AuditCheck, Context, KindDefaults, KindSpec, Observed, Privilege, Rule
from sssctl.engine.plan import Action, Change
from sssctl.kinds._shared import PAGE_SIZE, batch_operation, odata_string, who_am_i

log = structlog.get_logger(__name__)

PREFIX = "privilege."
READ_PARALLELISM = 8  # well under the service's 52 concurrent requests per user
DEPTHS = ("Basic", "Local", "Deep", "Global")
# Dataverse refuses every edit of the built-in System Administrator role (it always holds
# every privilege). Known by its fixed template id, or by name where templates are not read.
SYSTEM_ADMINISTRATOR = "System Administrator"
SYSTEM_ADMINISTRATOR_TEMPLATE = "627090ff-40a3-4053-8790-584edc5be201"


def depth_name(value: Any) -> str:
    """Depth as the member name whichever encoding the service used."""
    text = str(value)
    if text.isdigit() and int(text) < len(DEPTHS):
        return DEPTHS[int(text)]
    for name in DEPTHS:
        if name.lower() == text.lower():
            return name
    return text


class Directory:
    """Root business unit and its root role copies, read once for every privilege."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        units = list(
            ctx.dataverse.query(
                "businessunits",
                select=["businessunitid", "_parentbusinessunitid_value"],
                page_size=PAGE_SIZE,
            )
        )
        bus = [u for u in units if not u.get("_parentbusinessunitid_value")]
        if len(bus) != 1:
            raise LookupError(f"expected one root business unit, found {len(bus)}")
        self.root_bu = str(bus[0]["businessunitid"])
        self.child_units = len(units) - 1
        rows = ctx.dataverse.query(
            "roles",
            select=["roleid", "name", "_parentrootroleid_value", "_roletemplateid_value"],
            filter=f"_businessunitid_value eq {self.root_bu}",
        )
        roots = [
            r for r in rows
            if str(r.get("_parentrootroleid_value") or r["roleid"]).lower() == str(r["roleid"]).lower()
        ]
        self.roles = {str(r["roleid"]): str(r["name"]) for r in roots}
        self.fixed = {str(r["roleid"]) for r in roots if is_system_administrator(r)}
        self._privileges: dict[str, dict[str, str]] = {}

    def holders_of(self, privilege_id: str) -> dict[str, str]:
        """Root roles holding the privilege (role id -> depth name), in one query.

        The role-privilege intersect table answers "who holds it, how deep" at once;
        asking every role for all its privileges costs a request per role (sixty in a
        large environment). Where the table cannot be read, each candidate role is asked.
        """
        try:
            held = holders_in_intersect_table(self.ctx, privilege_id)
        except ClientError as exc:
            log.info("privilege.holders.unlisted", error=str(exc))
            return self._holders_role_by_role(privilege_id)
        return {role_id: held[role_id.lower()] for role_id in self.roles if role_id.lower() in held}

    def _holders_role_by_role(self, privilege_id: str) -> dict[str, str]:
        self.load_privileges(list(self.roles))
        return {
            role_id: depth
            for role_id in self.roles
            if (depth := self.role_privileges(role_id).get(privilege_id.lower())) is not None
        }

    def load_privileges(self, role_ids: Sequence[str]) -> None:
        """The roles' privileges, a few requests in flight at once (one call per role)."""
        missing = [role_id for role_id in role_ids if role_id not in self._privileges]
        with ThreadPoolExecutor(max_workers=READ_PARALLELISM, thread_name_prefix="roles") as pool:
            for role_id, held in zip(missing, pool.map(self._fetch, missing), strict=True):
                self._privileges[role_id] = held

    def _fetch(self, role_id: str) -> dict[str, str]:
        answer = self.ctx.dataverse.function("RetrieveRolePrivilegesRole", {"RoleId": role_id}) or {}
        return {
            str(p["PrivilegeId"]).lower(): depth_name(p.get("Depth"))
            for p in answer.get("RolePrivileges", [])
        }

    def role_privileges(self, role_id: str) -> dict[str, str]:
        """Privilege id (lower) -> depth name held by a root role."""
        if role_id not in self._privileges:
            self._privileges[role_id] = self._fetch(role_id)
        return self._privileges[role_id]

    def copies(self, role_ids: set[str]) -> Counter[str]:
        """Business-unit copies following each root copy (role id, lower): one per child unit.

        Dataverse gives every business unit its own copy of every root role, so the count
        comes from the business units already read, without a query of the role copies
        (with hundreds of units each role has hundreds of them, and only their number matters).
        """
        return Counter(dict.fromkeys(role_ids, self.child_units))

    def role_id(self, name: str) -> str | None:
        for role_id, role_name in self.roles.items():
            if role_name.lower() == name.lower():
                return role_id
        return None


def holders_in_intersect_table(ctx: Context, privilege_id: str) -> dict[str, str]:
    """Every role copy holding the privilege (role id, lower -> depth name) from the
    ``roleprivileges`` intersect table, whose depth is a bit mask (1 Basic .. 8 Global)."""
    rows = ctx.dataverse.query(
        "roleprivilegescollection",
        select=["roleid", "privilegedepthmask"],
        filter=f"privilegeid eq {privilege_id}",
        page_size=PAGE_SIZE,
    )
    return {str(r["roleid"]).lower(): depth_of_mask(r.get("privilegedepthmask")) for r in rows}


def depth_of_mask(mask: Any) -> str:
    """The deepest depth a ``privilegedepthmask`` grants; an unknown mask stays visible."""
    try:
        bits = int(mask)
    except (TypeError, ValueError):
        return f"unknown ({mask})"
    if not 0 < bits < 16:
        return f"unknown ({mask})"
    return DEPTHS[bits.bit_length() - 1]


def _holds(ctx: Context, role_id: str, privilege_id: str) -> bool:
    answer = ctx.dataverse.function("RetrieveRolePrivilegesRole", {"RoleId": role_id}) or {}
    return any(
        str(p["PrivilegeId"]).lower() == privilege_id.lower() for p in answer.get("RolePrivileges", [])
    )


def count_copies(directory: Directory, objects: Mapping[str, Any]) -> None:
    """Fill in the business-unit copies of every role that loses a privilege."""
    losing = [h for obj in objects.values() for h in obj["holders"].values() if "copies" in h]
    counts = directory.copies({str(h["id"]).lower() for h in losing})
    for holder in losing:
        holder["copies"] = counts[str(holder["id"]).lower()]


def is_system_administrator(role: Mapping[str, Any]) -> bool:
    template = str(role.get("_roletemplateid_value") or "").lower()
    return template == SYSTEM_ADMINISTRATOR_TEMPLATE or str(role.get("name")) == SYSTEM_ADMINISTRATOR


def resolve_privilege(ctx: Context, name: str) -> str:
    rows = list(
        ctx.dataverse.query(
            "privileges", select=["privilegeid", "name"], filter=f"name eq {odata_string(name)}"
        )
    )
    if not rows:
        raise LookupError(f"privilege {name!r} does not exist in this environment")
    return str(rows[0]["privilegeid"])


def caller_roles(ctx: Context) -> list[str] | None:
    """Names of the signed-in identity's roles, or None if they cannot be read."""
    try:
        me = who_am_i(ctx)
        rows = ctx.dataverse.query(
            f"systemusers({me.user_id})/systemuserroles_association", select=["name", "roleid"]
        )
        return sorted({str(r["name"]) for r in rows})
    except (ClientError, LookupError, KeyError) as exc:
        log.warning("privilege.caller_roles.failed", error=str(exc))
        return None


AUDIT_CHECKS = (
    AuditCheck(
        "high", "roles other than System Administrator can approve mailboxes",
        Rule("SSS003", "ApprovePrivilegeTooWide", "Roles other than System Administrator can "
             "approve mailboxes",
             "Roles beyond the allowed ones hold 'Approve Email Addresses for Users or Queues' "
             "(prvApproveRejectEmailAddress), so more people can switch synchronization on.",
             "List the roles that may approve in `[privileges.prvApproveRejectEmailAddress] allowed_roles` "
             "and run `sssctl apply`; every other role loses the privilege in every business unit."),
        address="privilege.prvApproveRejectEmailAddress",
        config_key=("privileges", "prvApproveRejectEmailAddress"),
    ),
)


class PrivilegeKind(KindDefaults):
    spec = KindSpec(
        name="privilege",
        checks=AUDIT_CHECKS,
        prefix="privilege",
        privileges=(Privilege("prvReadRole", "read security roles"),
                    Privilege("prvReadBusinessUnit", "find every business unit's copy of a role"),
                    Privilege("prvReadPrivilege", "find the privilege by name"),
                    Privilege("prvWriteRole", "change security roles")),
    )

    def addresses(self, desired: Desired) -> list[str]:
        return [PREFIX + name for name in desired.privileges]

    def read(self, ctx: Context) -> Observed:
        recorded = {a: e for a, e in ctx.state.items() if a.startswith(PREFIX)}
        names = {PREFIX + n: n for n in ctx.desired.privileges}
        names.update({a: a[len(PREFIX) :] for a in recorded})
        if not names:
            return Observed(objects={})
        # The roles, each privilege's id and the caller's own roles need nothing from one
        # another, so they are asked at once: under throttling a chain of reads meets a
        # pause per link, reads sent together share one.
        with ThreadPoolExecutor(max_workers=READ_PARALLELISM, thread_name_prefix="privilege") as pool:
            callers = pool.submit(caller_roles, ctx)
            ids = {address: pool.submit(resolve_privilege, ctx, name) for address, name in names.items()}
            directory = pool.submit(Directory, ctx).result()
        objects: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for address, name in names.items():
            try:
                policy = ctx.desired.privileges.get(name)
                allowed = {r.lower() for r in policy.allowed_roles} if policy else None
                objects[address] = self._read_one(directory, ids[address].result(), allowed)
            except (ClientError, LookupError) as exc:
                errors[address] = f"could not read privilege {name}: {exc}"
        count_copies(directory, objects)
        extra = {"caller_roles": callers.result(), "root_business_unit": directory.root_bu}
        return Observed(objects=objects, errors=errors, recorded=recorded, extra=extra)

    def _read_one(self, directory: Directory, privilege_id: str, allowed: set[str] | None) -> dict[str, Any]:
        """Root roles holding the privilege; business-unit copies counted for those that lose it."""
        held = directory.holders_of(privilege_id)
        holders: dict[str, dict[str, Any]] = {}
        for role_id in sorted(held, key=lambda r: directory.roles[r].lower()):
            role_name = directory.roles[role_id]
            holders[role_name] = {"id": role_id, "depth": held[role_id]}
            if role_id in directory.fixed:
                holders[role_name]["fixed"] = True
            if allowed is not None and role_name.lower() not in allowed:
                holders[role_name]["copies"] = 0  # counted for every privilege at once
        return {"privilege_id": privilege_id, "holders": holders, "roles": dict(directory.roles)}

    def diff(self, desired: Desired, observed: Observed) -> list[Change]:
        changes: list[Change] = []
        wanted = {PREFIX + n: p for n, p in desired.privileges.items()}
        for address in sorted(set(wanted) | set(observed.recorded)):
            if address in observed.errors:
                changes.append(Change(address, Action.UNKNOWN, None, None, observed.errors[address]))
                continue
            live = observed.objects.get(address)
            if live is None:
                continue
            if address in wanted:
                changes.append(self._converge(address, wanted[address].allowed_roles, live, observed))
            else:
                changes.append(self._restore(address, live, observed))
        return changes

    def _converge(
        self, address: str, allowed: Sequence[str], live: Mapping[str, Any], observed: Observed
    ) -> Change:
        allowed_lower = {name.lower() for name in allowed}
        holders: Mapping[str, Any] = live["holders"]
        before = {"roles": {name: h["depth"] for name, h in holders.items()}}
        kept = {name: h["depth"] for name, h in holders.items() if name.lower() in allowed_lower}
        after = {"roles": kept}
        losing = [name for name in holders if name.lower() not in allowed_lower]
        if not losing:
            return Change(address, Action.NOOP, before, after, "only allowed roles hold it")
        remove = [
            {
                "role_id": holders[n]["id"],
                "name": n,
                "depth": holders[n]["depth"],
                "copies": holders[n].get("copies", 0),
                **({"fixed": True} if holders[n].get("fixed") else {}),
            }
            for n in losing
        ]
        copies = sum(int(r["copies"]) for r in remove)
        detail = {"privilege_id": live["privilege_id"], "remove": remove, "business_unit_copies": copies}
        reason = (
            f"remove from {len(losing)} roles: {', '.join(losing)} ({copies} business-unit copies follow)"
        )
        return Change(address, Action.UPDATE, before, after, reason, None, detail)

    def _restore(self, address: str, live: Mapping[str, Any], observed: Observed) -> Change:
        original: Mapping[str, str] = (observed.recorded[address].get("original") or {}).get("roles") or {}
        holders: Mapping[str, Any] = live["holders"]
        before = {"roles": {name: h["depth"] for name, h in holders.items()}}
        held = {name.lower() for name in holders}
        roles: Mapping[str, str] = live["roles"]
        add = []
        for name, depth in original.items():
            role_id = next((rid for rid, rname in roles.items() if rname.lower() == name.lower()), None)
            if name.lower() not in held and role_id is not None:
                add.append({"role_id": role_id, "name": name, "depth": depth})
        after = {"roles": {**before["roles"], **{a["name"]: a["depth"] for a in add}}}
        if not add:
            return Change(
                address,
                Action.NOOP,
                before,
                after,
                "no longer managed; nothing to give back",
                forget=True,
            )
        detail = {
            "privilege_id": live["privilege_id"],
            "add": add,
            "root_business_unit": observed.extra.get("root_business_unit"),
        }
        reason = f"no longer managed: give it back to {', '.join(a['name'] for a in add)}"
        return Change(address, Action.UPDATE, before, after, reason, None, detail)

    def apply(self, ctx: Context, change: Change) -> Applied:
        """One action per role, all in one ``$batch`` (continue-on-error).

        Sent one by one, the role edits were a dozen requests in a row, each of which could
        meet its own 429 and its Retry-After, and every such refusal paused the steps of the
        safe sequence running beside them. A batch counts once against the limit
        (equivalent to ExecuteMultiple; learn.microsoft.com, "Execute batch operations
        using the Web API") and still answers each action on its own. A refused action
        fails the change once the others have run; a lost answer is raised for the engine
        to settle (:mod:`sssctl.engine.reconcile`): a fresh read lists only the roles still
        to do, so the next round sends only those.
        """
        privilege_id = str(change.detail["privilege_id"])
        removals = change.detail.get("remove", [])
        holding = self._holding(ctx, privilege_id, [r["role_id"] for r in removals]) if removals else set()
        edits: list[tuple[Mapping[str, Any], BatchOperation]] = []
        for role in removals:
            if role["role_id"].lower() in holding:
                edits.append((role, _removal(privilege_id, role)))
            else:
                log.info("privilege.removed", address=change.address, role=role["name"], already=True)
        edits += [(role, _addition(privilege_id, role, change.detail.get("root_business_unit")))
                  for role in change.detail.get("add", [])]
        writes = _send(ctx, change.address, edits)
        managed = None if "add" in change.detail else dict(change.after or {})
        return Applied(change.address, managed=managed, writes=writes, message=f"{writes} role edits")

    @staticmethod
    def _holding(ctx: Context, privilege_id: str, role_ids: Sequence[str]) -> set[str]:
        """Which of the roles (ids, lower) hold the privilege now, re-checked at apply time so
        a re-run after a crash skips roles already done: one query for all of them."""
        try:
            return set(holders_in_intersect_table(ctx, privilege_id))
        except ClientError:
            return {role_id.lower() for role_id in role_ids if _holds(ctx, role_id, privilege_id)}

    def describe(self, observed: Observed) -> dict[str, Any]:
        """Each privilege's allowlist is the roles that hold it now (at whatever depth)."""
        lists = {
            address[len(PREFIX):]: {"allowed_roles": sorted((obj or {}).get("holders", {}))}
            for address, obj in sorted(observed.objects.items())
            if (obj or {}).get("holders")
        }
        return {"privileges": lists} if lists else {}

    def guard(self, ctx: Context, changes: Sequence[Change], observed: Mapping[str, Observed]) -> list[str]:
        """Refuse at plan time what would fail or lock the caller out halfway through apply.

        Taking a privilege from System Administrator is refused even with
        ``--allow-lockout``: Dataverse never allows it, so no flag can make it work.
        """
        mine = observed.get(self.name)
        if mine is None:
            return []
        refusals = []
        for change in changes:
            if not change.address.startswith(PREFIX) or change.action is not Action.UPDATE:
                continue
            remove = change.detail.get("remove", [])
            fixed = sorted(r["name"] for r in remove if r.get("fixed"))
            if fixed:
                refusals.append(cannot_edit(change, fixed))
            removed = {r["name"].lower() for r in remove if not r.get("fixed")}
            if not removed or ctx.allow_lockout:
                continue
            refusal = lockout(change, removed, mine.extra.get("caller_roles"))
            if refusal:
                refusals.append(refusal)
        return refusals


def cannot_edit(change: Change, fixed: Sequence[str]) -> str:
    privilege = change.address[len(PREFIX) :]
    names = ", ".join(fixed)
    quoted = ", ".join(f'"{name}"' for name in fixed)
    return (
        f"{change.address}: {privilege} cannot be taken from {names}: Dataverse does not allow that role "
        f"to be edited (it always holds every privilege). Add {quoted} to allowed_roles; to keep people "
        "from approving, take that role away from them instead"
    )


def lockout(change: Change, removed: set[str], caller: Sequence[str] | None) -> str | None:
    """A refusal when the signed-in identity would lose the privilege from every role it has."""
    privilege = change.address[len(PREFIX) :]
    if caller is None:
        # The caller's roles could not be read (not every service exposes the user-role
        # association): refuse only the certain lockout, a plan that leaves nobody with it.
        if (change.after or {}).get("roles"):
            log.warning("privilege.lockout.unchecked", address=change.address)
            return None
        return (
            f"{change.address}: this plan removes {privilege} from every role and the signed-in "
            "identity's roles could not be read; keep at least one role in allowed_roles, or re-run "
            "with --allow-lockout"
        )
    holders = {name.lower(): name for name in (change.before or {}).get("roles", {})}
    mine = {name.lower() for name in caller} & set(holders)
    if mine and mine <= removed:
        names = ", ".join(sorted(holders[n] for n in mine))
        return (
            f"{change.address}: the signed-in identity holds {privilege} only through {names}, and this "
            "plan removes it from all of them; add one of its roles to allowed_roles, or re-run with "
            "--allow-lockout"
        )
    return None


def _removal(privilege_id: str, role: Mapping[str, Any]) -> BatchOperation:
    body = {"Privilege": {"@odata.type": "Microsoft.Dynamics.CRM.privilege", "privilegeid": privilege_id}}
    return batch_operation("POST", f"roles({role['role_id']})/Microsoft.Dynamics.CRM.RemovePrivilegeRole",
                           body, {})


def _addition(privilege_id: str, role: Mapping[str, Any], business_unit: str | None) -> BatchOperation:
    entry = {"PrivilegeId": privilege_id, "Depth": depth_name(role["depth"])}
    if business_unit:
        entry["BusinessUnitId"] = business_unit
    return batch_operation("POST", f"roles({role['role_id']})/Microsoft.Dynamics.CRM.AddPrivilegesRole",
                           {"Privileges": [entry]}, {})


def _send(ctx: Context, address: str, edits: Sequence[tuple[Mapping[str, Any], BatchOperation]]) -> int:
    """The edits' answers, each role logged as done; the first refusal raised once all ran."""
    if not edits:
        return 0
    results = ctx.dataverse.batch([op for _, op in edits], continue_on_error=True)
    writes = 0
    for (role, op), result in zip(edits, results, strict=True):
        if result.ok:
            writes += 1
            event = "privilege.removed" if op.url.endswith("RemovePrivilegeRole") else "privilege.restored"
            log.info(event, address=address, role=role["name"])
    refused = [r.error for r in results if r.error is not None]
    if refused:
        raise refused[0]
    return writes


KIND = PrivilegeKind()
