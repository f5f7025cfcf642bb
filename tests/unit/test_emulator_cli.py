"""``emulator serve --throttle-mix / --competing-share``: checked at the command line, passed on as knobs."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from sssctl.cli import cli


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``serve`` would have been started with, instead of starting it."""
    from sssctl.emulator import serve

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(serve, "serve", lambda **options: calls.append(options["faults"]))
    return calls


def test_the_mix_and_the_share_reach_the_emulator_as_its_knobs(served: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--throttle-probability", "0.2",
                                      "--throttle-mix", "requests:2,execution:1,concurrent:1",
                                      "--competing-share", "0.5"])
    assert result.exit_code == 0, result.output
    (faults,) = served
    assert faults["throttle_mix"] == "requests:2,execution:1,concurrent:1"
    assert faults["competing_share"] == 0.5 and faults["throttle_probability"] == 0.2


def test_by_default_429s_stand_for_the_request_count_and_nothing_is_shared(
        served: list[dict[str, Any]]) -> None:
    assert CliRunner().invoke(cli, ["emulator", "serve"]).exit_code == 0
    assert served[0]["throttle_mix"] == "requests" and served[0]["competing_share"] == 0.0


@pytest.mark.parametrize(("args", "said"), [
    (["--throttle-mix", "requests,burst:2"], "'burst' is not one"),
    (["--throttle-mix", "execution:-1"], "weight of execution must be a number of 0 or more"),
    (["--throttle-mix", "requests:0"], "at least one weight must be above 0"),
    (["--competing-share", "1"], "0.0<=x<1.0"),
    (["--competing-share", "-0.1"], "0.0<=x<1.0"),
])
def test_a_bad_mix_or_share_is_refused_naming_the_flag_and_the_fix(
        served: list[dict[str, Any]], args: list[str], said: str) -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", *args])
    assert result.exit_code == 2 and served == []
    assert args[0] in result.output and said in result.output


def test_the_help_teaches_what_each_limit_makes_a_client_do() -> None:
    text = " ".join(CliRunner().invoke(cli, ["emulator", "serve", "--help"]).output.split())
    assert "'concurrent' (concurrent requests: only the refused request waits" in text
    assert "0.5 leaves half to sssctl" in text
