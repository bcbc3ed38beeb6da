"""No command contacts an outside host: kedro's telemetry ships switched off."""

import subprocess
import sys
import textwrap

import yaml


def test_telemetry_consent_is_committed_as_false(project_root):
    assert yaml.safe_load((project_root / ".telemetry").read_text()) == {"consent": False}


def test_kedro_cli_makes_no_network_connection(project_root, tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    log = tmp_path / "connections.log"
    (guard / "sitecustomize.py").write_text(
        textwrap.dedent(f"""
        import socket
        _connect = socket.socket.connect
        def connect(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                with open({str(log)!r}, "a") as fh:
                    fh.write(repr(address) + "\\n")
                raise OSError("network disabled in this test")
            return _connect(self, address)
        socket.socket.connect = connect
    """)
    )
    env = {"PYTHONPATH": str(guard), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "registry", "list"],
        cwd=project_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "data_engineering" in result.stdout
    assert not log.exists(), log.read_text()


def test_ray_usage_statistics_are_off_when_the_search_runs():
    code = (
        "import os; os.environ.pop('RAY_USAGE_STATS_ENABLED', None)\n"
        "import calcium_dynamics.tuning.pbt\n"
        "from ray._common.usage.usage_lib import usage_stats_enabled\n"
        "print(os.environ['RAY_USAGE_STATS_ENABLED'], usage_stats_enabled())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["0", "False"]
