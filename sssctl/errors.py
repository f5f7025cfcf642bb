"""Meanings every layer shares, so no layer has to know another's exception classes.

A client raises its own error types; where one of them means something the engine must
act on whatever service raised it, the client's class also derives from one of these.
"""

from __future__ import annotations


class ChangedSinceRead(Exception):
    """The object was edited after it was read; the write was refused (If-Match), not applied.

    The applier reports it as *refused*, which is not a failure of sssctl or the service:
    someone else changed the object and a new plan must look at it again.
    """


class WriteOutcomeUnknown(Exception):
    """A write was sent but its answer was lost: whether it took effect is unknown.

    The connection dropped after the request left, or a resend of an If-Match write was
    refused because the first attempt had already changed the object. Only a fresh read
    can tell; the applier does that read and decides (see :mod:`sssctl.engine.reconcile`).
    """
