"""Planned rows kept on disk instead of in memory, so a plan's footprint does not grow with them.

An aggregate change (``mailboxes``, ``user_settings``) carries every row it will write:
id, ETag and a few short fields, tens of thousands at scale. Held as Python lists they
cost a few hundred bytes a row, and worse, the small strings each row keeps from a
decoded page pin the allocator's arenas, so the memory of every page read stays
resident. A :class:`RowSpool` encodes each row as one JSON line into a small buffer and
moves full buffers to an anonymous temporary file (deleted by the operating system when
closed or when the process ends, never visible by name); reading streams the lines back
in blocks. Only a count and one buffer stay in memory, whatever the number of rows.

Rows are lists of plain JSON scalars written by this process; the file is private to it.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any, Protocol

SPILL_BYTES = 256 * 1024   # buffered before a write to disk: a few thousand rows
READ_BYTES = 64 * 1024     # read back in blocks of this size


class Rows(Protocol):
    """What a writer needs of planned rows: how many, and each in turn (a list, or a spool)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


class RowSpool:
    """An append-then-read sequence of rows (lists of str / int / bool / None)."""

    def __init__(self, rows: Iterable[list[Any]] = (), *, spill_bytes: int = SPILL_BYTES) -> None:
        self._spill_bytes = spill_bytes
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self._on_disk = 0
        self._count = 0
        self._lock = threading.Lock()
        for row in rows:
            self.append(row)

    def append(self, row: list[Any]) -> None:
        line = json.dumps(row, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"
        with self._lock:
            self._buffer += line
            self._count += 1
            if len(self._buffer) >= self._spill_bytes:
                self._spill()

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="sssctl-rows-")  # noqa: SIM115 - lives with the spool
        self._file.seek(self._on_disk)
        self._file.write(self._buffer)
        self._file.flush()
        self._on_disk += len(self._buffer)
        self._buffer.clear()

    def _read_at(self, offset: int, size: int) -> bytes:
        """One block from the file; seek and read under the lock (portable, unlike pread),
        so iterations and appends never disturb each other."""
        with self._lock:
            if self._file is None:
                raise OSError("the row spool was closed while it was being read")
            self._file.seek(offset)
            return self._file.read(size)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[list[Any]]:
        """The rows in the order appended; positional reads, so iterations never disturb each other."""
        with self._lock:
            on_disk, tail = self._on_disk, bytes(self._buffer)
        yield from _lines(self._blocks(on_disk))
        yield from _lines(iter((tail,)))

    def _blocks(self, size: int) -> Iterator[bytes]:
        offset = 0
        while offset < size:
            block = self._read_at(offset, min(READ_BYTES, size - offset))
            if not block:
                raise OSError(f"the row spool ended after {offset} of {size} bytes")
            offset += len(block)
            yield block

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RowSpool | list | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == list(b) for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"RowSpool({self._count} rows)"

    def close(self) -> None:
        """Drop the file now rather than when the spool is collected."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._on_disk = self._count = 0
            self._buffer.clear()


def _lines(blocks: Iterator[bytes]) -> Iterator[list[Any]]:
    pending = b""
    for block in blocks:
        pending += block
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield json.loads(line)
    if pending:
        yield json.loads(pending)
