"""RowSpool: planned rows on disk, read back intact and in order, as often as asked."""

from __future__ import annotations

import json

from sssctl.engine.render.common import to_plain
from sssctl.engine.spool import RowSpool


def _rows(n: int) -> list[list[object]]:
    return [[f"id-{i}", f'W/"{i}"', "user" if i % 3 else "queue", f"ü{i}@contoso.com", i % 2 == 0, None]
            for i in range(n)]


def test_rows_come_back_in_order_across_the_spill_to_disk_and_the_buffer() -> None:
    rows = _rows(2_000)
    spool = RowSpool(rows, spill_bytes=4_096)  # many spills, and a tail still in the buffer
    assert len(spool) == 2_000 and spool
    assert list(spool) == rows
    assert list(spool) == rows  # a second pass reads the same rows again


def test_two_readers_at_once_do_not_disturb_each_other() -> None:
    spool = RowSpool(_rows(500), spill_bytes=1_024)
    first, second = iter(spool), iter(spool)
    pairs = list(zip(first, second, strict=True))
    assert all(a == b for a, b in pairs) and len(pairs) == 500


def test_an_empty_spool_is_falsy_and_reads_nothing() -> None:
    spool = RowSpool()
    assert not spool and len(spool) == 0 and list(spool) == []


def test_a_spool_equals_the_same_rows_as_a_list_and_saves_as_one() -> None:
    rows = _rows(300)
    spool = RowSpool(rows, spill_bytes=512)
    assert spool == rows and spool == RowSpool(rows)
    assert spool != rows[:-1] and spool != [*_rows(299), ["other"]]
    assert json.loads(json.dumps(to_plain({"rows": spool}))) == {"rows": rows}


def test_closing_drops_the_rows() -> None:
    spool = RowSpool(_rows(100), spill_bytes=256)
    spool.close()
    assert len(spool) == 0 and list(spool) == []
