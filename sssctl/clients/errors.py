"""One exception tree for every remote call, mirroring the layers.

The engine and kinds catch meanings (``NotFound``, ``PreconditionFailed``) and never look
at status codes. Every error carries what an operator needs to act: HTTP status, the
service's error code, its message and the request id to quote to support.
"""

from __future__ import annotations

from sssctl.errors import ChangedSinceRead, WriteOutcomeUnknown


class ClientError(Exception):
    """Base of everything a client raises."""


class AuthError(ClientError):
    """Signing in failed. ``remedy`` says what to do about it."""

    def __init__(self, message: str, *, code: str | None = None, remedy: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.remedy = remedy


class TransportError(ClientError):
    """The request did not get an HTTP answer (connection refused, reset, timeout, TLS)."""


class OutcomeUnknown(TransportError, WriteOutcomeUnknown):
    """A write's answer was lost after the request left; it may or may not have taken effect."""


class ServiceError(ClientError):
    """The service answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.url = url

    def __str__(self) -> str:
        parts = [super().__str__(), f"(HTTP {self.status}"]
        if self.code:
            parts[-1] += f", code {self.code}"
        if self.request_id:
            parts[-1] += f", request id {self.request_id}"
        parts[-1] += ")"
        return " ".join(parts)


class DataverseError(ServiceError):
    """Dataverse Web API error (JSON ``{"error": {"code": "0x…", "message": …}}``)."""


class NotFound(DataverseError):
    pass


class PreconditionFailed(DataverseError, ChangedSinceRead):
    """If-Match failed (412): the object changed since it was read."""


class PrivilegeDenied(DataverseError):
    """The caller lacks a privilege or role (403)."""


class Throttled(DataverseError):
    """Service protection limit hit and the retry budget is exhausted (429)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ValidationFailed(DataverseError):
    """The request was understood but refused (400): bad value, unknown property, …"""


class GraphError(ServiceError):
    """Microsoft Graph error (``{"error": {"code": "Request_…", "message": …}}``)."""


class GraphNotFound(GraphError):
    pass


class GraphConflict(GraphError):
    pass


class ExchangeError(ServiceError):
    """Exchange admin InvokeCommand error; message taken from ``error.details`` when present."""


class UntrustedReply(ClientError):
    """The service answered, but the answer cannot be used as it stands.

    A plan marks what depended on it unknown; nothing is written on the strength of it.
    ``url`` is the request's address without its query string.
    """

    def __init__(self, message: str, *, service: str, url: str | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.url = url


class ForeignLink(UntrustedReply):
    """A link, ``Location`` or redirect pointed at another scheme, host or port.

    Following it would hand the service's access token to whoever runs that host, so it
    is refused before a single byte is sent there.
    """


class PagingRunaway(UntrustedReply):
    """Paging did not end: a ``@odata.nextLink`` came back twice, or more pages arrived than
    the row count allows, or the page ceiling was reached."""


class MalformedReply(UntrustedReply):
    """Not JSON where JSON is due, or not the shape the API documents (types, required keys)."""


class ReplyTooLarge(UntrustedReply):
    """The body exceeded the size cap; reading stopped there instead of filling memory."""


class DeadlineExceeded(TransportError):
    """The whole request (connect, send, every read) took longer than its wall-clock deadline."""
