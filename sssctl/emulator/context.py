"""What the emulator's services share: verified callers, counters and fault knobs.

Identity verifies tokens; Dataverse, Graph and Exchange only consume the resulting
:class:`Caller`. Each service is a separate ASGI app mounted under its prefix by the
server; they share this context object and nothing else.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Caller:
    """A caller whose bearer token the emulator issued and verified."""

    app_id: str             # appid claim (v1 access tokens)
    object_id: str          # oid claim (service principal or user object id)
    tenant_id: str
    audience: str
    roles: tuple[str, ...]
    claims: dict[str, Any]


class InvalidToken(Exception):
    """The bearer token is missing, malformed, expired, or for another audience."""

    def __init__(self, reason: str, *, error: str = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


class TokenVerifier(Protocol):
    def verify(self, authorization: str | None, audience: str) -> Caller:
        """Return the caller or raise :class:`InvalidToken`."""
        ...


@dataclass
class Faults:
    """Fault and limit knobs, changeable at run time through ``POST /_emulator/faults``."""

    latency_ms: float = 0.0              # fixed latency added to every request
    latency_jitter_ms: float = 0.0       # plus uniform random 0..jitter
    batch_operation_ms: float = 0.0      # server time per operation inside $batch
    request_operation_ms: float = 0.0    # server time of a Dataverse request sent alone
    dop_hint: int = 4                    # x-ms-dop-hint, the recommended degree of parallelism
    throttle_probability: float = 0.0    # random 429 with Retry-After
    # Which service protection limit Dataverse's random 429s stand for: "requests", "execution",
    # "concurrent", or weights such as "requests:2,execution:1,concurrent:1".
    throttle_mix: str = "requests"
    error_probability: float = 0.0       # random 503
    drop_probability: float = 0.0        # connection closed without a response
    lost_response_probability: float = 0.0  # request fully processed, then closed without a response
    malformed_probability: float = 0.0   # 200 with an HTML body, as a captive portal or broken proxy sends
    fault_seed: int = -1                 # >= 0: fault decisions replay exactly (sequential callers)
    fault_service: str = ""              # only login | dataverse | graph | exchange ("" = all)
    fault_route: str = ""                # only paths starting with this, e.g. "/exchange/adminapi"
    max_faults: int = 0                  # stop injecting after this many faults (0 = no limit)
    fault_method: str = ""               # only this HTTP method ("" = any)
    fault_request_contains: str = ""     # only requests whose body holds this text ("mailboxes(", a cmdlet)
    retry_after_seconds: float = 1.0
    # Test-only reply tampering (see faults.mutate_reply): one field of every JSON answer to
    # the matching requests is changed before it leaves, as a buggy or hostile service would.
    mutate_route: str = ""               # path prefix to tamper with ("" = off)
    mutate_method: str = ""              # only this method ("" = any)
    mutate_request_contains: str = ""    # only requests whose body holds this text (a cmdlet name)
    mutate_field: str = ""               # dotted path: "keyId", "value.*.mailboxid", "value.0.appId"
    mutate_to: str = ""                  # JSON of the new value, or "<missing>" / "<nested>"
    # Test-only runaway paging (see faults.runaway_page): GETs under this path prefix answer
    # an empty page that links to yet another, forever, as a looping service would.
    runaway_route: str = ""              # path prefix ("" = off)
    runaway_count: int = -1              # >= 0: every such page also announces this @odata.count
    replication_delay: int = 0           # new Graph objects invisible for the next N requests
    rbac_propagation_seconds: float = 0.0  # Exchange RBAC role assignments take effect after this
    sync_rejects_rbac_only: bool = False  # Test & Enable fails for apps reaching mailboxes by RBAC alone
    ews_propagation_seconds: float = 0.0  # an EWSAllowedAppIDs change is enforced after this (<= 24 h)
    # Graph permissions an own-app profile needs for server-side sync over Graph (the modelled set).
    graph_sync_permissions: str = "Mail.ReadWrite,Calendars.ReadWrite,Contacts.ReadWrite,MailboxSettings.Read"
    # Dataverse service protection limits, per caller (documented defaults).
    limit_requests: int = 6000
    limit_execution_seconds: float = 1200.0
    limit_window_seconds: float = 300.0
    limit_concurrent: int = 52
    # Another integration signing in as the same user draws this share of each of the three
    # budgets above (requests, execution time, concurrent requests); 0.5 leaves half to us.
    competing_share: float = 0.0

    def update(self, values: dict[str, Any]) -> None:
        known = asdict(self)
        unknown = sorted(set(values) - set(known))
        if unknown:
            listed = ", ".join(sorted(known))
            raise ValueError(f"unknown fault knob(s): {', '.join(unknown)}; known: {listed}")
        for key, value in values.items():
            setattr(self, key, type(known[key])(value))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Counters:
    """Request and write counts that tests and benchmarks read from ``/_emulator/counters``.

    ``by_route`` keys are ``"<METHOD> <service>:<target>"``, e.g. ``"PATCH dataverse:mailboxes"``,
    ``"POST graph:applications"``, ``"POST exchange:New-ApplicationAccessPolicy"``.
    Every operation inside a ``$batch`` is recorded on its own (the batch POST itself is
    one request and no write).
    """

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    by_route: Counter[str] = field(default_factory=Counter)
    total: int = 0
    writes: int = 0
    throttled: int = 0

    def record(self, method: str, service: str, target: str, *, write: bool, request: bool = True) -> None:
        with self._lock:
            self.by_route[f"{method.upper()} {service}:{target}"] += 1
            if request:
                self.total += 1
            if write:
                self.writes += 1

    def record_throttled(self) -> None:
        with self._lock:
            self.throttled += 1

    def reset(self) -> None:
        with self._lock:
            self.by_route.clear()
            self.total = self.writes = self.throttled = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "writes": self.writes,
                "throttled": self.throttled,
                "by_route": dict(sorted(self.by_route.items())),
            }
