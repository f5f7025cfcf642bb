"""Microsoft Graph v1.0: the app registration side (applications, service principals, grants).

Directory writes replicate lazily: right after creating an application, reads and
reference updates may fail for seconds. ``wait_for_replication=True`` retries exactly those
answers (identity reference §3.6–3.8) with bounded backoff, and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import structlog

from sssctl.clients.errors import GraphConflict, GraphError, GraphNotFound
from sssctl.clients.http import HttpService, encode_query
from sssctl.clients.models import check, check_rows
from sssctl.clients.models.graph import model_for
from sssctl.clients.paging import PageGuard
from sssctl.clients.responses import (
    collection_page,
    describe_status,
    error_parts,
    json_object,
    json_or_none,
    request_id_of,
)

log = structlog.get_logger("sssctl.clients.graph")

REPLICATION_MESSAGES = (
    "does not reference a valid application object",
    "not a valid reference update",
    "must in the local tenant",
)


def graph_error(response: httpx.Response, *, method: str, url: str) -> GraphError:
    code, message, body_request_id = error_parts(json_or_none(response.text), describe_status(response))
    kind: type[GraphError] = GraphError
    if response.status_code == 404:
        kind = GraphNotFound
    elif response.status_code == 409:
        kind = GraphConflict
    return kind(message, status=response.status_code, code=code,
                request_id=request_id_of(response.headers) or body_request_id, method=method, url=url)


def is_replication_lag(error: GraphError) -> bool:
    """True for the answers Entra gives while a just-created object is still replicating."""
    if error.status == 404 and (error.code in (None, "Request_ResourceNotFound")):
        return True
    text = str(error).lower()
    return error.status == 400 and any(m in text for m in REPLICATION_MESSAGES)


class GraphClient:
    """Paths are relative to ``<graph_url>/v1.0/``, e.g. ``applications(uniqueName='sss')``."""

    def __init__(
        self,
        graph_url: str,
        http: HttpService,
        *,
        replication_timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.graph_url = graph_url.rstrip("/")
        self.api_url = self.graph_url + "/v1.0/"
        self.http = http
        self.replication_timeout = replication_timeout
        self._sleep = sleep
        self._clock = clock

    def _url(self, path: str) -> str:
        return path if path.startswith("https://") else self.api_url + path.lstrip("/")

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = self._url(path)
        if params:
            url += ("&" if "?" in url else "?") + encode_query({k: str(v) for k, v in params.items()})[1:]
        merged = {"Accept": "application/json", **(headers or {})}
        response = self.http.request(method, url, json=body, headers=merged, target=_graph_target(path))
        if response.status_code >= 400:
            raise graph_error(response, method=method, url=url.split("?", 1)[0])
        return response

    def _with_replication_wait(self, call: Callable[[], httpx.Response], wanted: bool) -> httpx.Response:
        if not wanted:
            return call()
        started = self._clock()
        delay = 0.5
        waited = 0.0  # counted separately so an injected sleeper still bounds the loop
        while True:
            try:
                return call()
            except GraphError as exc:
                spent = max(waited, self._clock() - started)
                if not is_replication_lag(exc) or spent + delay > self.replication_timeout:
                    raise
                log.debug("graph.replication.wait", status=exc.status, code=exc.code, delay_s=delay)
                self._sleep(delay)
                waited += delay
                delay = min(delay * 2, 8.0)

    def get(
        self, path: str, *, params: Mapping[str, Any] | None = None, wait_for_replication: bool = False
    ) -> dict[str, Any]:
        response = self._with_replication_wait(lambda: self._send("GET", path, params=params),
                                               wait_for_replication)
        body = json_object(response, service="graph", what=f"GET {_graph_target(path)}")
        return _checked("GET", path, body)

    def list(self, path: str, *, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following ``@odata.nextLink`` verbatim page by page."""
        url: str | None = path
        target = _graph_target(path)
        first_url = self._url(path)
        if params:
            first_url += ("&" if "?" in first_url else "?") + encode_query(
                {k: str(v) for k, v in params.items()})[1:]
        guard = PageGuard("graph", target, first_url)
        model = model_for("GET", _shown(path))
        first = True
        while url is not None:
            page = collection_page(self._send("GET", url, params=params if first else None),
                                   service="graph", what=f"GET {target}")
            first = False
            if model is not None:
                check_rows(page["value"], model, service="graph", call=f"GET {_shown(path)}")
            url = guard.next_url(page)
            yield from page["value"]

    def post(
        self, path: str, body: Mapping[str, Any], *, wait_for_replication: bool = False
    ) -> dict[str, Any] | None:
        response = self._with_replication_wait(lambda: self._send("POST", path, body=body),
                                               wait_for_replication)
        answer = _optional_object(response, f"POST {_graph_target(path)}")
        return None if answer is None else _checked("POST", path, answer)

    def patch(
        self, path: str, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any] | None:
        response = self._send("PATCH", path, body=body, headers=headers)
        answer = _optional_object(response, f"PATCH {_graph_target(path)}")
        return None if answer is None else _checked("PATCH", path, answer)

    def delete(self, path: str) -> None:
        self._send("DELETE", path)


def _checked(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` once it fits the model declared for ``method path`` (see :mod:`.models.graph`)."""
    model = model_for(method, _shown(path))
    if model is not None:
        check(body, model, service="graph", call=f"{method} {_shown(path)}")
    return body


def _shown(path: str) -> str:
    """The call as an operator recognises it: keys and ids kept, the query string left out."""
    if path.startswith("https://"):
        path = httpx.URL(path).path.split("/v1.0/", 1)[-1]
    return path.lstrip("/").split("?", 1)[0]


def _optional_object(response: httpx.Response, what: str) -> dict[str, Any] | None:
    """None for 204 No Content; any other body must be a JSON object."""
    if response.status_code == 204 or not response.content.strip():
        return None
    return json_object(response, service="graph", what=what)


def _graph_target(path: str) -> str:
    """First path segment without keys, for logs (``applications``, ``servicePrincipals``)."""
    if path.startswith("https://"):
        path = httpx.URL(path).path.split("/v1.0/", 1)[-1]
    head = path.lstrip("/").split("/", 1)[0]
    return head.split("(", 1)[0].split("?", 1)[0] or "/"
