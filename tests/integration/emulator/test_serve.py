"""`sssctl emulator serve` as a real process: one JSON line fast, clean stop, sourceable env file."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sssctl.emulator.admin_client import AdminClient, trusting_client
from sssctl.emulator.info import EmulatorInfo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return subprocess.Popen(
        [sys.executable, "-m", "sssctl", "emulator", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        # stderr stays open while the server runs: read it only once the process is gone,
        # or a slow start hangs here until the test's timeout instead of failing with its reason.
        process.kill()
        _, err = process.communicate(timeout=15)
        pytest.fail(f"no line within {timeout} s; stderr: {err}")
    return process.stdout.readline()


def test_serve_prints_one_json_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    # Only that the line comes: how fast depends on the machine, which a test cannot assume.
    env_file = tmp_path / "emulator.env"
    process = _start(tmp_path, "--env-file", str(env_file), "--latency-ms", "1", "--replication-delay", "2",
                      "--batch-operation-ms", "10", "--request-operation-ms", "5")
    try:
        info = EmulatorInfo(**json.loads(_first_line(process, timeout=20.0)))
        with AdminClient(info) as admin:
            assert admin.counters()["total"] == 0
            faults = admin.faults()
            assert (faults["latency_ms"], faults["replication_delay"]) == (1.0, 2)
            assert (faults["batch_operation_ms"], faults["request_operation_ms"]) == (10.0, 5.0)
        with trusting_client(info) as http:
            assert http.get(f"{info.authority}/v2.0/.well-known/openid-configuration").status_code == 200
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0
    assert out == "", "stdout must hold nothing but the one JSON line"
    assert f"serving {info.url}" in err
    assert (tmp_path / "cache" / "sssctl" / "emulator" / "ca.pem").exists()


def test_env_file_can_be_sourced_by_a_shell(tmp_path: Path) -> None:
    env_file = tmp_path / "emulator.env"
    process = _start(tmp_path, "--env-file", str(env_file), "--data-dir", str(tmp_path / "data"))
    try:
        info = EmulatorInfo(**json.loads(_first_line(process, timeout=10.0)))
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
    assert process.returncode == 0
    shell = subprocess.run(
        ["bash", "-c", f'set -a; . "{env_file}"; set +a; env'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    sourced = dict(line.split("=", 1) for line in shell.stdout.splitlines() if line.startswith("SSSCTL_"))
    assert sourced == info.environ()


def test_restart_reuses_the_ca(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cas = []
    for _ in range(2):
        process = _start(tmp_path, "--data-dir", str(data))
        try:
            info = EmulatorInfo(**json.loads(_first_line(process, timeout=10.0)))
            cas.append(Path(info.ca_file).read_bytes())
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=15)
    assert cas[0] == cas[1]


def test_non_loopback_host_is_refused_with_a_reason(tmp_path: Path) -> None:
    process = _start(tmp_path, "--host", "0.0.0.0")
    out, err = process.communicate(timeout=15)
    assert process.returncode == 1
    assert out == ""
    assert "only serves loopback" in err
    assert "Traceback" not in err


def test_busy_port_and_bad_dataset_fail_with_a_reason() -> None:
    import socket

    from sssctl.emulator import running_emulator
    from sssctl.emulator.server import EmulatorError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with (
            pytest.raises(EmulatorError, match=f"cannot listen on 127.0.0.1:{port}"),
            running_emulator(port=port),
        ):
            pass
    with pytest.raises(EmulatorError, match="unknown dataset 'huge'"), running_emulator(dataset="huge"):
        pass
    with pytest.raises(EmulatorError, match="throtle"), running_emulator(faults={"throtle_probability": 1}):
        pass


def test_printed_paths_are_absolute_even_for_a_relative_data_dir(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sssctl", "emulator", "serve", "--data-dir", "data"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        info = EmulatorInfo(**json.loads(_first_line(process, timeout=10.0)))
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    for path in (info.ca_file, info.client_certificate_file, info.federated_token_file):
        assert Path(path).is_absolute() and Path(path).exists()
