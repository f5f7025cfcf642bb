"""Whatever the input, loading answers with a Desired or a ConfigError, never anything else,
within a per-example time limit (hypothesis ``deadline``) and a memory bound (tracemalloc peak)."""

from __future__ import annotations

import atexit
import datetime as dt
import json
import shutil
import tempfile
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from sssctl.config import spec
from sssctl.config.errors import ConfigError
from sssctl.config.loader import load, tomllib
from sssctl.config.model import Desired
from tests.unit.config.conftest import CONFIGS

EXAMPLES = {p.name: p.read_text(encoding="utf-8") for p in sorted(CONFIGS.glob("*.toml"))}
PARSED = {name: tomllib.loads(text) for name, text in EXAMPLES.items()}


def _known_keys(node: spec.Node) -> Iterator[str]:
    if isinstance(node, spec.Table):
        for key, child in node.fields.items():
            yield key
            yield from _known_keys(child)
    elif isinstance(node, spec.MapOf):
        yield from _known_keys(node.value)


KNOWN = sorted({*_known_keys(spec.DOCUMENT), "RequirePrivilegeToSelfApproveEmailAddress",
                "SSSForceFilteringMethodForUserMailboxes", "prvApproveRejectEmailAddress", "custom", "env",
                "file", "default"})
keys = st.one_of(st.sampled_from(KNOWN), st.text(min_size=1, max_size=12))
scalars = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False),
    st.text(max_size=30), st.sampled_from(["server_side_sync", "none", "https://x.example", "sss", "prvX",
                                           "00000000-0000-0000-0000-000000000000", "a@b.co", "../x"]),
    st.dates(), st.datetimes(timezones=st.just(dt.timezone.utc)),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)
documents = st.dictionaries(keys, values, max_size=6)

_DIR = Path(tempfile.mkdtemp(prefix="sssctl-prop-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)


# Far above what a config of a few hundred KB needs, far below what a runaway would take.
PEAK_BYTES = 64 * 1024 * 1024


def _outcome(content: str | bytes) -> None:
    path = _DIR / "doc.toml"
    path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    tracemalloc.start()
    try:
        result = load(path, {})
    except ConfigError as exc:
        assert exc.findings
        assert all(isinstance(f.message, str) and f.message for f in exc.findings)
        assert all(len(f.key_path) < 1000 for f in exc.findings)
    else:
        assert isinstance(result, Desired)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"loading took {peak} bytes at its peak"


def _mutate(doc: Any, data: st.DataObject) -> Any:
    """Drop, rename, retype or add one key somewhere in the document."""
    if not isinstance(doc, dict) or not doc:
        return data.draw(values)
    doc = dict(doc)
    key = data.draw(st.sampled_from(sorted(doc)))
    action = data.draw(st.sampled_from(["drop", "rename", "retype", "add", "descend"]))
    if action == "drop":
        del doc[key]
    elif action == "rename":
        doc[data.draw(keys)] = doc.pop(key)
    elif action == "retype":
        doc[key] = data.draw(values)
    elif action == "add":
        doc[data.draw(keys)] = data.draw(values)
    else:
        doc[key] = _mutate(doc[key], data)
    return doc


COMMON = settings(max_examples=150, deadline=timedelta(seconds=5),
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.timeout(120)
@COMMON
@given(documents)
def test_random_documents(doc: dict[str, Any]) -> None:
    _outcome(tomli_w.dumps(doc))


@pytest.mark.timeout(120)
@COMMON
@given(st.sampled_from(sorted(PARSED)), st.data())
def test_mutated_examples(name: str, data: st.DataObject) -> None:
    doc = PARSED[name]
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        doc = _mutate(doc, data)
    _outcome(tomli_w.dumps(doc))


@pytest.mark.timeout(120)
@COMMON
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_damaged_example_text(name: str, data: st.DataObject) -> None:
    text = EXAMPLES[name]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(text)))
        cut = data.draw(st.integers(min_value=0, max_value=12))
        text = text[:at] + data.draw(st.text(max_size=8)) + text[at + cut:]
    _outcome(text)


def _nested(opening: str, closing: str, inner: str = "1") -> st.SearchStrategy[str]:
    return st.integers(min_value=1, max_value=60_000).map(lambda n: opening * n + inner + closing * n)


_KEY_PART = st.sampled_from(["a", '"b.c"', "'d'", "org_settings", "0"])
hostile_values = st.one_of(
    _nested("[", "]"), _nested("{b = ", "}"), _nested("[{a = ", "}]"),
    st.integers(min_value=1, max_value=20_000).map(lambda n: "9" * n),
    st.integers(min_value=1, max_value=20_000).map(lambda n: "0x" + "f" * n),
    st.integers(min_value=1, max_value=20_000).map(lambda n: "-0o" + "7" * n),
    st.integers(min_value=0, max_value=30_000).map(lambda n: "[" + "1, " * n + "]"),
    st.integers(min_value=0, max_value=100_000).map(lambda n: '"' + "x" * n + '"'),
)
hostile_keys = st.one_of(
    st.integers(min_value=1, max_value=60_000).map(lambda n: '"' + "k" * n + '"'),
    st.lists(_KEY_PART, min_size=1, max_size=20_000).map(".".join),
)
hostile_lines = st.one_of(
    st.tuples(hostile_keys, hostile_values).map(lambda kv: f"{kv[0]} = {kv[1]}\n"),
    hostile_keys.map(lambda key: f"[{key}]\n"),
    hostile_keys.map(lambda key: f"[[{key}]]\n"),
    st.integers(min_value=1, max_value=3000).map(lambda n: "".join(f"k{i} = {i}\n" for i in range(n))),
)


@pytest.mark.timeout(300)
@COMMON
@given(st.sampled_from(sorted(EXAMPLES)), st.lists(hostile_lines, min_size=1, max_size=3), st.data())
def test_hostile_text_inside_an_example(name: str, lines: list[str], data: st.DataObject) -> None:
    """Deep nesting, huge integers, long and deep keys, many keys, anywhere in a real config."""
    text = EXAMPLES[name]
    for line in lines:
        at = data.draw(st.sampled_from([0, *(i + 1 for i, ch in enumerate(text) if ch == "\n")]))
        text = text[:at] + line + text[at:]
    _outcome(text)


@pytest.mark.timeout(300)
@COMMON
@given(st.sampled_from(sorted(EXAMPLES)), st.sampled_from(["utf-8-sig", "utf-16", "utf-32", "latin-1"]),
       st.binary(max_size=64))
def test_any_encoding_and_prefix_bytes(name: str, encoding: str, prefix: bytes) -> None:
    """A byte-order mark is accepted (UTF-8) or refused clearly, like any leading garbage."""
    _outcome(prefix + EXAMPLES[name].encode(encoding, "replace"))


# The committed JSON Schema may be looser than the validator (it cannot check references
# between keys), but never stricter: whatever `validate` accepts, an editor must accept.
SCHEMA = Draft202012Validator(json.loads((CONFIGS / "sssctl.schema.json").read_text(encoding="utf-8")))


def _agrees_with_schema(doc: dict[str, Any]) -> None:
    path = _DIR / "schema.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    try:
        load(path, {})
    except ConfigError:
        return
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in SCHEMA.iter_errors(doc)]
    assert not errors, errors


@pytest.mark.timeout(120)
@COMMON
@given(st.sampled_from(sorted(PARSED)), st.data())
def test_schema_accepts_whatever_the_validator_accepts(name: str, data: st.DataObject) -> None:
    doc = PARSED[name]
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        doc = _mutate(doc, data)
    _agrees_with_schema(doc)


@pytest.mark.parametrize("name", sorted(PARSED))
def test_schema_accepts_the_examples(name: str) -> None:
    assert not list(SCHEMA.iter_errors(PARSED[name]))
