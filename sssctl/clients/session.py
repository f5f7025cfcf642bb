"""One run's signed-in clients: the only entry point the engine and kinds use.

``open_clients`` checks the configuration it needs, builds one verifying TLS context, one
token provider, one pooled HTTP client and one rate limiter per service,
and closes them all at the end of the ``with`` block.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

import httpx

from sssctl.clients._memory import limit_malloc_arenas
from sssctl.clients.auth import (
    SignInSettings,
    TokenProvider,
    build_token_provider,
    is_transient_login_answer,
)
from sssctl.clients.clouds import CloudEndpoints, resolve_cloud, scope_for
from sssctl.clients.dataverse import DataverseClient
from sssctl.clients.errors import AuthError
from sssctl.clients.exchange import ExchangeClient
from sssctl.clients.graph import GraphClient
from sssctl.clients.http import (
    MAX_CONCURRENCY,
    HttpService,
    PauseObserver,
    RateLimiter,
    ReplyLimits,
    RequestStats,
    RetryPolicy,
    build_ssl_context,
    new_http_client,
)
from sssctl.config.hints import sign_in_notes
from sssctl.config.model import Desired


@dataclass
class Clients:
    dataverse: DataverseClient
    graph: GraphClient | None
    exchange: ExchangeClient | None
    stats: RequestStats
    token_provider: TokenProvider | None = None
    # Services left out because a setting they need is missing: name -> what to set.
    unavailable: dict[str, str] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


@dataclass(frozen=True)
class ClientOptions:
    """Knobs tests and benchmarks turn; production uses the defaults."""

    sleep: Callable[[float], None] = time.sleep
    policy: RetryPolicy | None = None
    transport: httpx.BaseTransport | None = None
    prompt: TextIO | None = None
    replication_timeout: float = 60.0
    limits: ReplyLimits | None = None


def with_notes(exc: AuthError, notes: list[str]) -> AuthError:
    """``exc`` with the config's sign-in hints (placeholders, ignored ambient values) added to
    its remedy; ``exc`` itself when there are none."""
    if not notes:
        return exc
    remedy = "; ".join([exc.remedy, *notes] if exc.remedy else notes)
    return AuthError(str(exc), code=exc.code, remedy=remedy)


class NotedProvider:
    """A token provider whose sign-in failures also name what in the config likely caused them."""

    def __init__(self, provider: TokenProvider, notes: list[str]) -> None:
        self.method = provider.method
        self._provider = provider
        self._notes = notes

    def token(self, scope: str) -> str:
        try:
            return self._provider.token(scope)
        except AuthError as exc:
            raise with_notes(exc, self._notes) from exc


def _org_url(desired: Desired) -> str:
    url = desired.environment.url
    if not url:
        raise AuthError("environment.url is not configured",
                        remedy="set [environment] url = \"https://<org>.crm.dynamics.com\" or SSSCTL_URL")
    if not url.startswith("https://"):
        raise AuthError(f"environment.url must be an https:// URL, got {url!r}",
                        remedy="use the environment's URL as shown in the Power Platform admin center")
    return url.rstrip("/")


def _unavailable(cloud: CloudEndpoints, tenant_id: str | None, *, need_graph: bool,
                 need_exchange: bool) -> dict[str, tuple[str, str]]:
    """(reason, remedy) for each wanted service that these settings cannot reach."""
    out: dict[str, tuple[str, str]] = {}
    if need_graph and not cloud.graph_url:
        out["graph"] = ("Graph is needed but no Graph URL is known",
                        "set environment.endpoints.graph_url or SSSCTL_GRAPH_URL")
    if need_exchange and not cloud.exchange_url:
        out["exchange"] = ("Exchange is needed but no Exchange URL is known",
                           "set environment.endpoints.exchange_url or SSSCTL_EXCHANGE_URL")
    elif need_exchange and not tenant_id:
        out["exchange"] = ("environment.tenant_id is needed for the Exchange admin API",
                           "set environment.tenant_id or SSSCTL_TENANT_ID")
    return out


@contextmanager
def open_clients(
    desired: Desired,
    *,
    need_graph: bool = False,
    need_exchange: bool = False,
    environ: Mapping[str, str] | None = None,
    max_concurrency: int = MAX_CONCURRENCY,
    options: ClientOptions | None = None,
    missing_ok: bool = False,
    timeout: float | None = None,
    on_pause: PauseObserver | None = None,
) -> Iterator[Clients]:
    """Signed-in clients for the run; Graph/Exchange only when the config manages them.

    ``on_pause`` hears of every wait of a second or more a service asks for (429), so the
    run's progress can say why nothing moves.

    A Graph or Exchange client whose endpoint (or, for Exchange, tenant) is not configured
    is an error, unless ``missing_ok``: then that client is ``None`` and
    ``Clients.unavailable`` says why, so a plan can mark what needs it unknown and still
    plan everything else.
    """
    limit_malloc_arenas()  # before any sending thread starts (see clients/_memory.py)
    opts = options or ClientOptions()
    env = dict(os.environ if environ is None else environ)
    org_url = _org_url(desired)
    cloud = resolve_cloud(desired.environment)
    tenant_id = desired.environment.tenant_id
    unavailable = _unavailable(cloud, tenant_id, need_graph=need_graph, need_exchange=need_exchange)
    if unavailable and not missing_ok:
        reason, remedy = next(iter(unavailable.values()))
        raise AuthError(reason, remedy=remedy)
    need_graph = need_graph and "graph" not in unavailable
    need_exchange = need_exchange and "exchange" not in unavailable
    ssl_context = build_ssl_context(desired.environment.endpoints.ca_bundle)
    stats = RequestStats()
    policy = opts.policy or RetryPolicy()
    if timeout is not None:
        policy.expire_in(timeout)
    closers: list[Callable[[], None]] = []
    try:
        login_http = new_http_client(ssl_context, transport=opts.transport)
        closers.append(login_http.close)
        # Sign-in draws on the run's retry budget but not on its request counts, which report
        # what the run cost in API calls.
        login = HttpService("login", login_http, token=None, stats=RequestStats(), policy=policy,
                            sleep=opts.sleep, limits=opts.limits, retry_when=is_transient_login_answer,
                            on_pause=on_pause)
        notes = sign_in_notes(desired, env)
        try:
            provider: TokenProvider = NotedProvider(build_token_provider(SignInSettings(
                auth=desired.auth, cloud=cloud, tenant_id=tenant_id, environ=env,
                http_client=login_http, prompt=opts.prompt, login=login,
            )), notes)
        except AuthError as exc:
            raise with_notes(exc, notes) from exc

        def service(name: str, resource: str, limiter: RateLimiter | None) -> HttpService:
            client = new_http_client(ssl_context, transport=opts.transport)
            closers.append(client.close)
            scope = scope_for(resource)
            return HttpService(name, client, token=lambda: provider.token(scope), stats=stats,
                               policy=policy, limiter=limiter, sleep=opts.sleep, origin=resource,
                               limits=opts.limits, on_pause=on_pause)

        # The limiter's waits are short and real (pacing, or the rest of a Retry-After another
        # thread already slept); only retry back-off uses the injectable sleeper. The cap is
        # the user's; how many requests really fly is what the service's headers allow.
        # One limiter per service, because each service keeps its own budget: a Retry-After
        # holds back every request to the service that sent it (Dataverse: per user and web
        # server; Graph: per app and tenant; Exchange: per caller), and no other service's.
        def limiter() -> RateLimiter:
            return RateLimiter(min(max_concurrency, MAX_CONCURRENCY))

        dataverse = DataverseClient(org_url, service("dataverse", org_url, limiter()))
        graph = (GraphClient(cloud.graph_url, service("graph", cloud.graph_url, limiter()),
                             replication_timeout=opts.replication_timeout, sleep=opts.sleep)
                 if need_graph else None)
        exchange = (ExchangeClient(cloud.exchange_url, tenant_id or "",
                                   service("exchange", cloud.exchange_url, limiter()))
                    if need_exchange else None)
        clients = Clients(dataverse, graph, exchange, stats, provider,
                          {name: f"{why}: {remedy}" for name, (why, remedy) in unavailable.items()},
                          closers)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    try:
        yield clients
    finally:
        clients.close()
