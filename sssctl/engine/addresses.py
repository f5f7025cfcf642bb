"""Resource addresses: which kind owns one, and whether a ``--target`` selects it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sssctl.kinds import KIND_MODULES

# The two server profile kinds share the ``server_profile`` prefix in the user's words.
_SPECIAL_PREFIXES = (
    ("server_profile.default", "server_profile_default"),
    ("server_profile.custom", "server_profile_custom"),
)


def kind_of(address: str) -> str:
    """The kind module that owns ``address`` (``org_setting.X`` -> ``org_setting``)."""
    for prefix, kind in _SPECIAL_PREFIXES:
        if address == prefix or address.startswith((prefix + ".", prefix + "[")):
            return kind
    return re.split(r"[.\[]", address, maxsplit=1)[0]


def kind_rank(kind: str) -> int:
    """Position in the safe apply order; unknown kinds go last, in a stable way."""
    try:
        return KIND_MODULES.index(kind)
    except ValueError:
        return len(KIND_MODULES)


def matches_target(address: str, target: str) -> bool:
    """Exact match, or ``target`` is a prefix ending at a ``.`` or ``[`` boundary.

    ``org_setting`` selects every ``org_setting.*``; ``server_profile`` both profile kinds;
    ``app_registration.sss`` also its ``.credential`` sub-address; ``org_setting.Foo``
    does not select ``org_setting.FooBar``.
    """
    target = target.strip()
    if address == target:
        return True
    return address.startswith(target) and address[len(target)] in ".["


def select(addresses: Iterable[str], targets: Iterable[str]) -> set[str]:
    wanted = [t for t in targets if t.strip()]
    return {a for a in addresses if not wanted or any(matches_target(a, t) for t in wanted)}
