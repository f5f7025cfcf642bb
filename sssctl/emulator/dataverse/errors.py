"""The one failure type of the Dataverse emulator and the documented codes it carries.

Every failure the service produces is a :class:`DataverseFault`; the HTTP layer turns it
into the documented body ``{"error": {"code": "0x…", "message": "…"}}``. Codes and their
HTTP statuses follow reference §1.10; the texts of an unknown segment, an unknown property
in ``$select`` or in a body, and a function called with the wrong method follow
"Troubleshoot Dataverse Web API client errors":
https://learn.microsoft.com/en-us/troubleshoot/power-platform/power-apps/dataverse/web-api-client-errors
"""

from __future__ import annotations

# Hex codes used by the emulator (reference §1.10).
OBJECT_DOES_NOT_EXIST = "0x80040217"
ODATA_URI_PROBLEM = "0x80060888"
RESOURCE_NOT_FOUND = "0x8006088a"
# OData's own reader failures (unknown property in $select or in a body) carry no Dataverse code.
ODATA_READER = "0x0"
PRIVILEGE_DENIED = "0x80040220"
NO_ROLES = "0x80042f09"
NOT_A_MEMBER = "0x80072560"
INVALID_ARGUMENT = "0x80040203"
VALIDATION = "0x80044331"
INVALID_OPERATION = "0x80040227"
NOT_SUPPORTED = "0x8004023B"
VERSION_MISMATCH = "0x80060882"
DUPLICATE_RECORD = "0x80040237"
LIMIT_REQUESTS = "0x80072322"
LIMIT_EXECUTION = "0x80072321"
LIMIT_CONCURRENT = "0x80072326"
AUTHENTICATION = "0x80040204"


class DataverseFault(Exception):
    """A request Dataverse would refuse, with the status, hex code and message it would send."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str, code: str = ODATA_URI_PROBLEM) -> DataverseFault:
    return DataverseFault(400, code, message)


def no_property(name: str, logical: str, code: str = ODATA_URI_PROBLEM) -> DataverseFault:
    """In ``$select`` the troubleshooting page shows code ``0x0``; in ``$filter``, ``$orderby`` and
    ``$expand`` Dataverse answers ``0x80060888``."""
    return bad_request(
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{logical}'.", code
    )


def invalid_body_property(name: str, logical: str) -> DataverseFault:
    return bad_request(
        "An error occurred while validating input parameters: Microsoft.Crm.CrmException: "
        f"Invalid property '{name}' was found in entity 'Microsoft.Dynamics.CRM.{logical}'. ---> "
        "Microsoft.OData.ODataException: Does not support untyped value in non-open type.",
        ODATA_READER,
    )


def no_http_resource(uri: str) -> DataverseFault:
    """A function called with POST (or an action with GET): ASP.NET's routing text, no code."""
    return DataverseFault(404, "", f"No HTTP resource was found that matches the request URI '{uri}'.")


def not_found(logical: str, record_id: str) -> DataverseFault:
    return DataverseFault(404, OBJECT_DOES_NOT_EXIST, f"{logical} With Id = {record_id} Does Not Exist")


def no_segment(segment: str) -> DataverseFault:
    return DataverseFault(404, RESOURCE_NOT_FOUND, f"Resource not found for the segment '{segment}'.")


# Longest URL Dataverse reads: 32 KB on its own, 64 KB for a request inside a $batch.
MAX_URL = 32_768
MAX_BATCH_URL = 65_536


def url_too_long(length: int, limit: int) -> DataverseFault:
    return DataverseFault(
        414,
        ODATA_URI_PROBLEM,
        f"The request URL has {length:,} characters, more than the {limit:,} allowed. Send long queries "
        "inside a $batch request (up to 65,536 characters) or use fewer filter terms.",
    )
