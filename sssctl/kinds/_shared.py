"""What the Dataverse-side kinds share: the one organization read, its guarded write,
the server-profile lookup, option vocabularies and value normalisation.

The organization row is one record that three kinds write (``org_setting``, ``approval``
and ``mailbox_defaults``), one change after another. Each change carries the ETag it
was planned at; after the first of them is written that ETag is stale *because of our own
write*, so :func:`write_organization` remembers which version each of our writes
produced and follows that chain. An edit by anyone else still breaks the chain and is
refused with 412, which is the point of If-Match.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from sssctl.catalog import options
from sssctl.clients.dataverse import BatchOperation, BatchResult
from sssctl.clients.errors import DataverseError
from sssctl.engine.kind import Context, Privilege
from sssctl.engine.spool import Rows
from sssctl.errors import WriteOutcomeUnknown
from sssctl.kinds._xml import XmlValueError, parse_elements
from sssctl.kinds.handoffs import OrganizationVersions, WrittenProfile

if TYPE_CHECKING:
    from sssctl.clients.dataverse import WhoAmI

log = structlog.get_logger(__name__)
T = TypeVar("T")

ORGANIZATION_COLUMNS = (
    "organizationid",
    "orgdborgsettings",
    "defaultemailsettings",
    "_defaultemailserverprofileid_value",
    "requireapprovalforuseremail",
    "requireapprovalforqueueemail",
)
DEFAULT_PROFILE_NAME = "Microsoft Exchange Online"

# Privileges several kinds declare (``auth check`` probes them once).
READ_ORGANIZATION = Privilege("prvReadOrganization", "read organization settings")
WRITE_ORGANIZATION = Privilege("prvWriteOrganization", "write organization settings")
READ_PROFILES = Privilege("prvReadEmailServerProfile", "read email server profiles")
WRITE_PROFILES = Privilege("prvWriteEmailServerProfile", "change email server profiles")
# Collection reads are narrowed to the rows a depth reaches, not refused, so anything less
# than Global would read as "nothing to change" instead of failing.
READ_QUEUES = Privilege("prvReadQueue", "tell queue mailboxes from user mailboxes")
PAGE_SIZE = 5000

_write_lock = threading.Lock()

# ACT numbering differs from incoming/outgoing (see sssctl.catalog.options).
INCOMING_EMAIL = options.INCOMING_EMAIL
OUTGOING_EMAIL = options.OUTGOING_EMAIL
ACT = options.APPOINTMENTS_CONTACTS_TASKS
INCOMING_FILTERING = options.INCOMING_EMAIL_FILTERING


def label_of(vocabulary: Mapping[str, int], value: Any) -> str | None:
    """The user's word for an option value; unknown values stay visible as ``"unknown (7)"``."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return f"unknown ({value})"
    for label, option in vocabulary.items():
        if option == number:
            return label
    return f"unknown ({number})"


def odata_string(value: str) -> str:
    """An OData string literal: single quotes, embedded quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def etag_of(record: Mapping[str, Any] | None) -> str | None:
    if not record:
        return None
    etag = record.get("@odata.etag")
    return str(etag) if etag is not None else None


def rows_by_id(ctx: Context, entity_set: str, key: str, ids: Iterable[str], select: Sequence[str], *,
               per_query: int, expand: str | None = None) -> dict[str, dict[str, Any]]:
    """The rows with these ids (``key`` plus ``select``), by lower-case id; missing ids are gone.

    Plain ``eq``/``or`` filters, understood everywhere, ``per_query`` ids per GET: a GUID
    clause is about 60 characters once encoded, so even the 100 of a doubled ``$batch``
    chunk stay far below the 32 KB Dataverse allows a URL. Rows are checked against their
    reply model like every other read, so a malformed answer fails the read rather than
    being believed.
    """
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(list(ids), per_query):
        rows = ctx.dataverse.query(entity_set, select=[key, *select],
                                   filter=" or ".join(f"{key} eq {row_id}" for row_id in part), expand=expand)
        found.update({str(row[key]).lower(): dict(row) for row in rows})
    return found


def who_am_i(ctx: Context) -> WhoAmI:
    """The signed-in identity: the engine's own WhoAmI answer when it handed one in."""
    if ctx.whoami is not None:
        return ctx.whoami
    return ctx.reads.get("whoami", ctx.dataverse.whoami)


# --- organization -------------------------------------------------------------------------


def read_together(ctx: Context, *loads: Callable[[Context], object]) -> None:
    """Start independent shared reads at once, so the caller then finds them answered.

    Each load files its answer (or its error) in the run's read cache, where the caller's
    own sequential asks pick it up; so this only pays while answers are shared (the plan,
    a read-back after a lost answer): otherwise each ask reads again and nothing is
    started here. Overlapping them matters under throttling more than for latency: a
    429's ``Retry-After`` covers every request of the caller to that service (Dataverse's
    limits are per user, Graph's per app per tenant), so reads sent together wait out
    one pause, where reads sent one after another can each meet their own.
    """
    if len(loads) < 2 or not ctx.reads.sharing:
        return
    with ThreadPoolExecutor(max_workers=len(loads), thread_name_prefix="read") as pool:
        futures = [pool.submit(load, ctx) for load in loads]
    for future in futures:
        future.exception()      # kept in the cache; the caller's own ask raises it where it matters


def read_organization(ctx: Context) -> dict[str, Any]:
    """The organization row, read once per run and shared by every kind that needs it.

    Reads may run in parallel threads, so the first caller reads and the others wait for
    and reuse its answer (or its error). It lives for the run, apply included, and
    :func:`write_organization` drops it after each of our writes.
    """

    def load() -> dict[str, Any]:
        rows = list(ctx.dataverse.query("organizations", select=list(ORGANIZATION_COLUMNS), top=1))
        if not rows:
            raise LookupError("the environment returned no organization row")
        return dict(rows[0])

    return ctx.reads.get("organization", load, lifetime="run")


def write_organization(ctx: Context, organization_id: str, body: Mapping[str, Any], etag: str | None) -> None:
    """PATCH the organization with If-Match, following the ETags our own writes produced."""
    with _write_lock:
        chain = ctx.handoffs.setdefault("organization", OrganizationVersions()).produced_from
        current = etag
        while current is not None and current in chain:
            current = chain[current]
        # The answer carries the version this write produced (return=representation), so
        # the next write of the row follows our own ETag in one request, not a PATCH and a GET.
        try:
            fresh = ctx.dataverse.update("organizations", organization_id, body, if_match=current,
                                         returning=["organizationid"])
        except WriteOutcomeUnknown as lost:
            log.warning("apply.answer_lost", target="organization", error=str(lost))
            if not _organization_shows(ctx, organization_id, body):
                raise
            fresh = None
        if fresh is None:  # the preference was not honoured, or the answer was lost: read it back
            fresh = ctx.dataverse.get("organizations", organization_id, select=["organizationid"])
        new_etag = etag_of(fresh)
        if current is not None and new_etag is not None:
            chain[current] = new_etag
        ctx.reads.forget("organization")


def _organization_shows(ctx: Context, organization_id: str, body: Mapping[str, Any]) -> bool:
    """Whether the organization row holds what a write whose answer was lost sent.

    If so the write took effect, and the caller goes on to adopt the row's new ETag into
    the chain, so the next change to the same row is not refused by our own write.
    """
    expected = dict(_as_read(column, value) for column, value in body.items())
    fresh = ctx.dataverse.get("organizations", organization_id, select=list(expected))
    return all(_xml_holds(fresh.get(column), value, column) if column in XML_COLUMNS
               else _same(fresh.get(column), value) for column, value in expected.items())


# Settings documents: orgdborgsettings is patched with only the settings sent (the server
# merges them) and both are stored re-serialised, so "the row shows the write" means every
# element sent is there with its value, not the same text.
XML_COLUMNS = frozenset({"orgdborgsettings", "defaultemailsettings"})


def _xml_holds(live: Any, sent: Any, column: str) -> bool:
    try:
        held = {k.lower(): v for k, v in parse_elements(live, column).items()}
        wanted = parse_elements(sent, column)
    except XmlValueError:
        return False
    return all(_same(held.get(name.lower()), value) for name, value in wanted.items())


def _as_read(column: str, value: Any) -> tuple[str, Any]:
    """A written column as a read shows it: ``x@odata.bind: /set(id)`` reads as ``_x_value: id``."""
    if column.endswith("@odata.bind"):
        bound = str(value).rsplit("(", 1)[-1].rstrip(")")
        return f"_{column.removesuffix('@odata.bind')}_value", bound
    return column, value


def _same(live: Any, sent: Any) -> bool:
    if isinstance(live, str) and isinstance(sent, str):
        return live.lower() == sent.lower()
    return bool(live == sent)


# --- server profiles ----------------------------------------------------------------------

# Column values of an "Exchange Online / OAuth (Cross Tenant)" profile. The reference marks
# this mapping partly [guess] (the portal's UI->column mapping is undocumented): keep every
# such value in this one table so a correction is one edit.
EWS_URL = "https://outlook.office365.com/EWS/Exchange.asmx"
EXCHANGE_ONLINE_COLUMNS: Mapping[str, Any] = {
    "servertype": 0,  # "Exchange Server": Exchange Online on Dynamics online
    "useautodiscover": False,
    "incomingserverlocation": EWS_URL,
    "outgoingserverlocation": EWS_URL,
    "incomingcredentialretrieval": 7,  # OAuth with Microsoft Entra ID
    "outgoingcredentialretrieval": 7,
    "incomingauthenticationprotocol": 4,  # OAuth
    "outgoingauthenticationprotocol": 4,
    "usedefaulttenantid": False,  # the tenant id below is used, possibly another tenant
}
PROFILE_SELECT = (
    "emailserverprofileid",
    "name",
    *EXCHANGE_ONLINE_COLUMNS,
    "exchangeonlinetenantid",
    "oauthclientid",
    "isoauthclientsecretset",
    "statecode",
    "statuscode",
)


def read_profiles(ctx: Context) -> list[dict[str, Any]]:
    """All email server profiles with every column any kind reads, once per run.

    A small table (a handful of rows per environment), so one full read serves the
    default profile, the custom profiles and the mailbox defaults alike.
    """
    columns = list(dict.fromkeys(("emailserverprofileid", "name", "statecode", "statuscode",
                                  *PROFILE_SELECT)))

    def load() -> list[dict[str, Any]]:
        return list(ctx.dataverse.query("emailserverprofiles", select=columns))

    return ctx.reads.get("emailserverprofiles", load)


def profile_by_id(ctx: Context, profile_id: str) -> dict[str, Any] | None:
    for row in read_profiles(ctx):
        if str(row.get("emailserverprofileid", "")).lower() == profile_id.lower():
            return row
    return None


def profiles_named(ctx: Context, name: str) -> list[dict[str, Any]]:
    """Profiles by name, compared case-insensitively as Dataverse compares names."""
    return [row for row in read_profiles(ctx) if str(row.get("name", "")).lower() == name.lower()]


def profile_name(profiles: list[dict[str, Any]], profile_id: str | None) -> str | None:
    if profile_id is None:
        return None
    for row in profiles:
        if str(row.get("emailserverprofileid", "")).lower() == str(profile_id).lower():
            return str(row.get("name"))
    return f"(unknown profile {profile_id})"


def profile_id_now(ctx: Context, name: str) -> str:
    """Resolve a profile name to its id at apply time: the id our own write of it answered
    earlier in the run, else as Dataverse lists it now (someone may have made it since the plan)."""
    written = ctx.handoffs.get(WrittenProfile, name.lower())
    if written is not None:
        return written.profile_id
    rows = list(
        ctx.dataverse.query(
            "emailserverprofiles",
            select=["emailserverprofileid", "name"],
            filter=f"name eq {odata_string(name)}",
        )
    )
    if not rows:
        raise LookupError(
            f"email server profile {name!r} does not exist; create it first "
            f'([server_profiles.custom."{name}"]) or fix mailbox_defaults.server_profile'
        )
    if len(rows) > 1:
        raise LookupError(f"{len(rows)} email server profiles are named {name!r}; rename all but one")
    return str(rows[0]["emailserverprofileid"])


def default_profile_id(ctx: Context, organization: Mapping[str, Any]) -> str | None:
    """The id of the built-in profile: recorded at first sight, else found by its name."""
    recorded = ctx.state.get("server_profile.default")
    if recorded:
        managed = recorded.get("managed") or {}
        if managed.get("id"):
            return str(managed["id"])
    for row in read_profiles(ctx):
        if str(row.get("name", "")).lower() == DEFAULT_PROFILE_NAME.lower():
            return str(row["emailserverprofileid"])
    value = organization.get("_defaultemailserverprofileid_value")
    return str(value) if value else None


# --- values -------------------------------------------------------------------------------


def as_bool(value: Any) -> bool | None:
    """XML and JSON booleans in every spelling Dataverse and tools produce."""
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def batch_operation(
    method: str, url: str, body: Mapping[str, Any] | None, headers: Mapping[str, str]
) -> BatchOperation:
    return BatchOperation(method=method, url=url, body=body, headers=dict(headers))


# Why $batch and not UpdateMultiple: Microsoft documents the bulk messages as faster for
# the tables that support them, and says not every table does yet ("Use bulk operation
# messages"). The table references list the messages each table supports, and neither
# names UpdateMultiple: mailbox lists Assign, Create, Delete, Retrieve(Multiple), SetState,
# Update, Upsert and the access messages; usersettings only Retrieve, RetrieveMultiple and
# Update (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/mailbox
# and .../entities/usersettings). $batch also keeps a per-row If-Match and per-row answers
# (continue-on-error), so a row edited since the plan is refused alone.
def send_in_batches(
    ctx: Context,
    rows: Rows,
    operation: Callable[[Any], BatchOperation],
    *,
    label: str,
    size: int,
    on_lost: Callable[[list[Any], list[BatchResult]], list[BatchResult]] | None = None,
) -> Iterator[tuple[Any, BatchResult]]:
    """Each row with the answer to its operation, ``$batch`` chunks of ``size`` (twice that
    while the service limits the number of requests: :meth:`DataverseClient.rows_per_batch`).

    Up to ``ctx.parallelism`` chunks go to the client at once (``--parallelism``, a cap);
    how many really fly is what the service's headers allow (see
    :class:`sssctl.clients.http.RateLimiter`), and only one chunk more than that is read
    and built ahead, across every kind writing at the time
    (:meth:`~sssctl.clients.dataverse.DataverseClient.reserve_batch`): a chunk waiting for
    a slot would otherwise hold its rows, its operations and its encoded body for nothing.
    Reverting tens of thousands of rows one chunk after another left the service idle
    while each answer travelled.

    Answers come back in row order whatever order the chunks finish in, and progress
    counts rows whose answer has been handed on. Once ``ctx.stop`` is
    set (Ctrl-C) no new chunk is sent; the rows of chunks never sent are not yielded.

    A chunk whose answer is lost answers :data:`LOST` for each row, unless ``on_lost``
    settles it first: it gets the chunk's rows and those answers and returns the answers
    to hand on instead, in the same worker thread (so the other chunks keep flowing) and
    still within the chunk's slot.
    """
    width = max(1, ctx.parallelism)
    window: deque[tuple[list[Any], Future[list[BatchResult]]]] = deque()
    total = len(rows)
    done = 0

    def send(chunk: list[Any]) -> list[BatchResult]:
        operations = [operation(row) for row in chunk]
        try:
            return ctx.dataverse.batch(operations, continue_on_error=True, max_per_batch=len(chunk))
        except WriteOutcomeUnknown as lost:
            # The chunk may or may not have taken effect: the kind reads its rows back now
            # (``on_lost``), and whatever that leaves unknown is settled by a fresh read of the
            # kind once every other chunk has been sent (sssctl.engine.reconcile), never given up.
            unknown = [lost_answer(op, lost) for op in operations]
            return unknown if on_lost is None else on_lost(chunk, unknown)

    def settle() -> Iterator[tuple[Any, BatchResult]]:
        nonlocal done
        sent, future = window.popleft()
        yield from zip(sent, future.result(), strict=True)
        done += len(sent)
        report(ctx, label, done, total)

    report(ctx, label, 0, total)  # the step shows as running before its first answer is back
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="batch") as pool:
        for chunk in chunks(rows, lambda: ctx.dataverse.rows_per_batch(size)):
            while len(window) >= width or (window and window[0][1].done()):
                yield from settle()
            if ctx.stop.is_set() or not ctx.dataverse.reserve_batch(ctx.stop):
                break
            future = pool.submit(send, chunk)
            future.add_done_callback(lambda _: ctx.dataverse.release_batch())
            window.append((chunk, future))
        while window:
            yield from settle()


LOST = 0   # the status of an operation whose answer never came (no HTTP status exists for it)


def lost_answer(op: BatchOperation, lost: Exception) -> BatchResult:
    error = DataverseError(f"the answer to its $batch was lost ({lost})", status=LOST,
                           method=op.method.upper(), url=op.url)
    return BatchResult(op, LOST, None, {}, error)


def chunks(items: Iterable[Any], size: int | Callable[[], int]) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` items, read from ``items`` only as each is needed;
    a callable ``size`` is asked again for every list."""
    rest = iter(items)
    while chunk := list(islice(rest, size() if callable(size) else size)):
        yield chunk


def report(ctx: Context, label: str, done: int, total: int | None) -> None:
    if ctx.progress is not None:
        ctx.progress(label, done, total)
