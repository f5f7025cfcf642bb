"""Declared shapes of the replies sssctl acts on, checked before any kind sees them.

Every answer a decision rests on (an id that goes into a URL, a keyId a profile will be
given, a flag that says a secret is set) is converted into a strict ``msgspec.Struct``
first: ids are GUIDs, required fields are present, types are exact (no ``"1"`` for ``1``,
no ``null`` for a string), secret text is not empty. A reply that does not fit is a
:class:`~sssctl.clients.errors.MalformedReply` naming the service, the call and the field,
so what depended on it is *unknown* and nothing is written on its strength.

msgspec rather than pydantic: one small C extension with no dependencies of its own,
strict by default in ``convert(..., strict=True)``, errors that carry the JSON path
(``$.passwordCredentials[0].keyId``), and fast enough to check every row of a
5,000-mailbox read without showing in the profile. The models only check: clients still
hand kinds the parsed JSON they always did (fields the models do not declare are kept),
so a model never drops data a kind reads, it only refuses data a kind must not trust.

The models live per service: :mod:`.graph`, :mod:`.dataverse`, :mod:`.exchange`,
:mod:`.token`.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec

from sssctl.clients.errors import MalformedReply

GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

Guid = Annotated[str, msgspec.Meta(pattern=GUID_PATTERN)]
"""An object id: it goes into URLs and filters, so nothing but a GUID is accepted."""

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
"""Text that must say something: a name used as an identity, a secret."""

UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType
"""A column absent from the reply (not selected); ``null`` is still refused where the
field's type does not allow it."""

S = TypeVar("S", bound=msgspec.Struct)


class Reply(msgspec.Struct, forbid_unknown_fields=False):
    """Base of every model: undeclared fields are allowed (services add fields all the time)."""


def check(raw: Any, model: type[S], *, service: str, call: str) -> S:
    """``raw`` as ``model``, or a :class:`MalformedReply` naming service, call and field."""
    try:
        return msgspec.convert(raw, model, strict=True)
    except msgspec.ValidationError as exc:
        raise MalformedReply(f"{service}: the answer to {call} does not have the documented shape: "
                             f"{in_words(str(exc))}; it was not used", service=service) from exc


def check_rows(rows: list[Any], model: type[S], *, service: str, call: str) -> None:
    """Every row of a collection page as ``model`` (the page fails as a whole)."""
    for index, row in enumerate(rows):
        try:
            msgspec.convert(row, model, strict=True)
        except msgspec.ValidationError as exc:
            raise MalformedReply(
                f"{service}: row {index + 1} of the answer to {call} does not have the documented shape: "
                f"{in_words(str(exc))}; the page was not used", service=service) from exc


def in_words(message: str) -> str:
    """msgspec's ``- at `$.x``` tail becomes ``(field x)``, the way the rest of sssctl names fields."""
    message = message.replace(f"matching regex '{GUID_PATTERN}'", "that is a GUID")
    text, sep, where = message.partition(" - at `")
    if not sep:
        return message
    field = where.rstrip("`").removeprefix("$").lstrip(".") or "the body"
    return f"field {field}: {text}"
