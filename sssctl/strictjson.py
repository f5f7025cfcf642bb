"""A strict reader for JSON that sssctl itself wrote and reads back: plan files, state snapshots.

Such a file may have been edited, truncated or swapped on its way back, so it is read
strictly: a key twice in one object is refused (which value counts is up to the parser,
so two readers could disagree), so are ``NaN``/``Infinity`` and numbers of absurd length
(``int()`` of megabytes of digits is slow); :func:`coerce` then checks every value
against the type annotation it must have, naming the first field that does not fit.
Knows nothing of plans or state: the plan file format lives in
:mod:`sssctl.engine.planfile`, the snapshot in :mod:`sssctl.state.model`.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

_MAX_NUMBER_TEXT = 100          # digits of one JSON number: int() of megabytes of digits is slow

Decoder = Callable[[Any, str], Any]     # (value, where) -> the value as its type, or Mismatch


class DuplicateKey(ValueError):
    """A key twice in one JSON object."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def loads(raw: bytes) -> Any:
    """UTF-8 JSON, strictly; raises UnicodeDecodeError, ValueError or RecursionError."""
    return json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicate_keys,
                      parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    if len(text) > _MAX_NUMBER_TEXT:
        raise ValueError(f"a number of {len(text)} characters")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_NUMBER_TEXT:
        raise ValueError(f"a number of {len(text)} characters")
    return int(text)


# --- type checking ------------------------------------------------------------------------


class Mismatch(Exception):
    """A field of the wrong type, missing or unknown; the message names it."""


def coerce(value: Any, hint: Any, where: str, decoders: Mapping[Any, Decoder] | None = None) -> Any:
    """``value`` as ``hint`` describes it, or :class:`Mismatch` naming ``where``.

    ``hint`` is a type annotation (of a dataclass field, say) or a dict spelling out a
    JSON object's keys. ``decoders`` read the types whose JSON spelling is their own
    (an enum written as a word rather than its value).
    """
    return _Coercer(dict(decoders or {})).coerce(value, hint, where)


@functools.cache
def _field_hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


@dataclasses.dataclass
class _Coercer:
    decoders: dict[Any, Decoder]

    def coerce(self, value: Any, hint: Any, where: str) -> Any:
        if isinstance(hint, dict):
            return self.object(value, hint, where)
        if hint is Any:
            return value
        if hint in self.decoders:
            return self.decoders[hint](value, where)
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            return hint(**self.object(value, _field_hints(hint), where))
        origin = typing.get_origin(hint)
        if origin is not None:
            return self.generic(value, origin, typing.get_args(hint), where)
        return _scalar(value, hint, where)

    def object(self, value: Any, keys: Mapping[str, Any], where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise Mismatch(f"{where} must be a JSON object, not {json_type(value)}")
        missing = sorted(set(keys) - set(value))
        unknown = sorted(set(value) - set(keys))
        if missing or unknown:
            said = [f"missing {', '.join(missing)}"] if missing else []
            said += [f"unknown {', '.join(unknown)}"] if unknown else []
            raise Mismatch(f"{where} has {'; '.join(said)}")
        return {key: self.coerce(value[key], hint, f"{where}.{key}") for key, hint in keys.items()}

    def generic(self, value: Any, origin: Any, args: tuple[Any, ...], where: str) -> Any:
        if origin is typing.Union or origin is types.UnionType:
            for option in args:
                try:
                    return self.coerce(value, option, where)
                except Mismatch:
                    continue
            raise Mismatch(f"{where} must be {' or '.join(_name(a) for a in args)}, not {json_type(value)}")
        if origin is typing.Literal:
            if any(type(value) is type(a) and value == a for a in args):
                return value
            raise Mismatch(f"{where} must be one of {', '.join(repr(a) for a in args)}")
        if origin in (dict, collections.abc.Mapping):
            if not isinstance(value, dict):
                raise Mismatch(f"{where} must be a JSON object, not {json_type(value)}")
            return {k: self.coerce(v, args[1] if args else Any, f"{where}.{k}") for k, v in value.items()}
        if origin in (tuple, list, frozenset, set, collections.abc.Sequence, collections.abc.Set):
            return self.sequence(value, origin, args, where)
        raise Mismatch(f"{where} has a type this release cannot read ({_name(origin)})")

    def sequence(self, value: Any, origin: Any, args: tuple[Any, ...], where: str) -> Any:
        if not isinstance(value, list):
            raise Mismatch(f"{where} must be a JSON array, not {json_type(value)}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise Mismatch(f"{where} must have {len(args)} items, not {len(value)}")
            return tuple(self.coerce(v, a, f"{where}[{i}]")
                         for i, (v, a) in enumerate(zip(value, args, strict=True)))
        item = args[0] if args else Any
        items = [self.coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        if origin in (frozenset, collections.abc.Set):
            return frozenset(items)
        if origin is set:
            return set(items)
        return items if origin is list else tuple(items)


def _scalar(value: Any, hint: Any, where: str) -> Any:
    if hint is type(None) or hint is None:
        if value is None:
            return None
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except (ValueError, TypeError):
            raise Mismatch(f"{where} is not a known {hint.__name__} ({shown(value)})") from None
    elif hint is bool or hint is str:
        if isinstance(value, hint):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    else:
        raise Mismatch(f"{where} has a type this release cannot read ({_name(hint)})")
    raise Mismatch(f"{where} must be {_name(hint)}, not {json_type(value)}")


def _name(hint: Any) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", float: "a number",
             type(None): "null"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "an array",
             dict: "an object"}
    return names.get(type(value), type(value).__name__)


def shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool) else json_type(value)
    return text if len(text) <= 40 else text[:37] + "..."
