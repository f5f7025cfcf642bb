"""System query options as Dataverse admits them: which are known, how often, what they answer.

Dataverse refuses ``$skip`` and any unknown ``$`` option with 400, a repeated option with
400, and caps ``$count`` at 5,000 rows, saying with the ``totalrecordcount`` annotations
whether the real total is larger
(https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query/count-rows).
"""

from __future__ import annotations

from typing import Any

from .errors import NOT_SUPPORTED, DataverseFault, bad_request
from .messages import ApiRequest
from .query import MAX_PAGE, Preferences

_QUERY_OPTIONS = {
    "$select",
    "$filter",
    "$orderby",
    "$top",
    "$count",
    "$expand",
    "$skiptoken",
    "$apply",
    "fetchXml",
    "$format",
}


def prefer_headers(request: ApiRequest) -> list[str]:
    value = request.header("prefer")
    return [value] if value else []


def applied(prefs: Preferences) -> list[tuple[str, str]]:
    """The ``Preference-Applied`` header for the preferences the answer honoured."""
    honoured = []
    if prefs.max_page_size is not None:
        honoured.append(f"odata.maxpagesize={min(prefs.max_page_size, MAX_PAGE)}")
    if prefs.annotations:
        honoured.append('odata.include-annotations="' + ",".join(prefs.annotations) + '"')
    return [("Preference-Applied", ",".join(honoured))] if honoured else []


def check_options(request: ApiRequest) -> None:
    seen: set[str] = set()
    for key, _ in request.params:
        if key.startswith("$") and key in seen:
            raise bad_request(
                f"Query option '{key}' was specified more than once, but it must be specified at most once."
            )
        seen.add(key)
        if key == "$skip":
            raise bad_request("The query parameter $skip is not supported.")
        if key.startswith("$") and key not in _QUERY_OPTIONS:
            raise bad_request(f"The query parameter {key} is not supported.")
        if key in ("$apply", "fetchXml"):
            raise DataverseFault(501, NOT_SUPPORTED, f"The emulator does not implement {key}.")


def counts(total: int, prefs: Preferences) -> dict[str, Any]:
    """``$count`` stops at 5000; the annotations say whether the real total is larger."""
    answer: dict[str, Any] = {"@odata.count": min(total, MAX_PAGE)}
    if prefs.wants("Microsoft.Dynamics.CRM.totalrecordcount"):
        answer["@Microsoft.Dynamics.CRM.totalrecordcount"] = min(total, MAX_PAGE)
    if prefs.wants("Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"):
        answer["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = total > MAX_PAGE
    return answer


def top(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise bad_request(f"Invalid value '{value}' for $top query option found.")
    return int(value)


def ctx_select(select: list[str] | None) -> str:
    """The projection an ``@odata.context`` names: ``#mailboxes(mailboxid,name)``."""
    return f"({','.join(select)})" if select else ""
