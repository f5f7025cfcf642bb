"""Meanings every layer shares, so no layer has to know another's exception classes.

A client raises its own error types; where one of them means something the engine must
act on whatever service raised it, the client's class also derives from one of these.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path


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


def cannot_write(path: Path, exc: OSError, *, what: str, remedy: str) -> str:
    """A failed write in the user's words: their path, the system's reason, what to do.

    Never the raw ``[Errno N] ...: '/dir/.name.1f2e.tmp'``: the temp file, guard file or
    directory the operating system names is an implementation detail, and the errno text
    alone says nothing about the fix. The reason is the system's own short text
    (``Permission denied``, ``No such file or directory``).
    """
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        reason = f"the directory {path.parent} does not exist"
    elif isinstance(exc, FileExistsError | NotADirectoryError):
        reason = "a file is in the way where a directory must be"
    text = f"cannot write {what} {path}: {reason}. {remedy}"
    if isinstance(exc, PermissionError):
        text += (f" sssctl runs as {_user()}, which may not write there; the container image runs as "
                 "the non-root user sssctl (uid 10001): mount the directory writable for it.")
    return text


def writable_problem(path: Path) -> str | None:
    """Why a file at ``path`` could not be written (checked before long work), or None."""
    folder = path.parent
    if path.is_dir():
        return "it is a directory"
    if not folder.exists():
        return f"the directory {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a directory"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the directory {folder} is not writable by {_user()}"
    return None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "this user"
