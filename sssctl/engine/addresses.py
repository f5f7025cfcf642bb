"""Resource addresses: whether a ``--target`` selects one.

Which kind owns an address is the registry's question (each kind declares its prefix);
what is left here knows only the address grammar.
"""

from __future__ import annotations

from collections.abc import Iterable


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
