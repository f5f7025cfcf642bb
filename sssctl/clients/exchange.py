"""Exchange Online admin API (``InvokeCommand``): cmdlets over REST, app-only.

The endpoint is undocumented but stable in shape (identity reference §2.3): one POST per
cmdlet, paging by re-posting the same body to ``@odata.nextLink``, and the useful error
text hidden in ``error.details[0].message`` behind a ``|Type.Name|`` prefix.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
from collections.abc import Mapping
from typing import Any

import httpx

from sssctl.clients.errors import ExchangeError
from sssctl.clients.http import HttpService
from sssctl.clients.models.exchange import check_output
from sssctl.clients.paging import PageGuard
from sssctl.clients.responses import collection_page, describe_status, json_or_none, request_id_of

SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
READ_VERBS = ("Get-", "Test-")
# "Ex6F9304|Microsoft.Exchange...Exception|text": an optional site code, then the exception type.
_TYPE_PREFIX = re.compile(r"^(?:Ex[0-9A-Fa-f]+)?\|[^|]*\|\s*")


def exchange_error_message(body: Any, fallback: str) -> tuple[str | None, str]:
    """(code, message): prefer ``details[0].message``, then the inner exception, then ``message``."""
    if not isinstance(body, Mapping) or not isinstance(body.get("error"), Mapping):
        return None, fallback
    error = body["error"]
    code = error.get("code")
    details = error.get("details")
    first = details[0] if isinstance(details, list) and details else None
    if isinstance(first, Mapping) and first.get("message"):
        return code, _TYPE_PREFIX.sub("", str(first["message"]))
    inner = error.get("innererror") or error.get("innerError")
    if isinstance(inner, Mapping):
        internal = inner.get("internalexception")
        if isinstance(internal, Mapping) and internal.get("message"):
            return code, str(internal["message"])
        if inner.get("message"):
            return code, str(inner["message"])
    return code, str(error.get("message") or fallback)


class ExchangeClient:
    def __init__(self, exchange_url: str, tenant_id: str, http: HttpService) -> None:
        self.exchange_url = exchange_url.rstrip("/")
        self.tenant_id = tenant_id
        self.url = f"{self.exchange_url}/adminapi/beta/{tenant_id}/InvokeCommand"
        self.http = http
        # Exchange's own "now" (the Date of its last answer): EWS dates are Exchange's to keep.
        self.server_time: float | None = None

    def invoke(self, cmdlet: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one cmdlet and return every output object (all pages).

        ``Get-``/``Test-`` cmdlets only read, so they may be replayed after a dropped
        connection; anything else is a POST that is replayed only when not processed.
        """
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters or {})}}
        headers = {
            "Accept": "application/json",
            "X-AnchorMailbox": f"APP:{SYSTEM_MAILBOX}@{self.tenant_id}",
            "Prefer": "odata.maxpagesize=1000",
            "X-ResponseFormat": "json",
        }
        replayable = cmdlet.startswith(READ_VERBS)
        rows: list[dict[str, Any]] = []
        url: str | None = self.url
        guard = PageGuard("exchange", cmdlet, self.url)
        while url is not None:
            response = self.http.request("POST", url, json=body, headers=headers, replayable=replayable,
                                         target=cmdlet)
            self._note_date(response)
            if response.status_code >= 400:
                raise self._error(response, cmdlet)
            # Every cmdlet answers a collection, even an empty one; an empty or non-JSON body is
            # a broken answer, never "no objects" (which would read as "no policy exists").
            page = collection_page(response, service="exchange", what=cmdlet)
            url = guard.next_url(page)
            check_output(cmdlet, page["value"])
            rows.extend(page["value"])
        return rows

    def _note_date(self, response: httpx.Response) -> None:
        raw = response.headers.get("date")
        # A missing or odd Date only means sssctl falls back on its own clock.
        with contextlib.suppress(TypeError, ValueError):
            self.server_time = email.utils.parsedate_to_datetime(raw).timestamp() if raw else self.server_time

    def _error(self, response: httpx.Response, cmdlet: str) -> ExchangeError:
        code, message = exchange_error_message(json_or_none(response.text), describe_status(response))
        return ExchangeError(f"{cmdlet}: {message}", status=response.status_code, code=code,
                             request_id=request_id_of(response.headers), method="POST", url=self.url)
