"""Provenance records: the command, the commit, the date and the machine, CPU included."""

import json
import platform
from pathlib import Path

import pytest

from calcium_dynamics import provenance


def test_run_record_names_the_command_seeds_threads_and_machine(tmp_path):
    record = provenance.run_record("python x.py --seed 3", seeds=3, threads=1, cwd=tmp_path)
    assert record["command"] == "python x.py --seed 3"
    assert record["seeds"] == [3] and record["threads"] == 1
    assert record["git_commit"] is None and record["git_dirty"] is None  # not a checkout
    machine = record["machine"]
    assert machine["python"] == platform.python_version()
    assert set(machine["processor"]) == {"model", "bfloat16_instructions"}
    json.dumps(record)  # JSON-ready


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs Linux /proc/cpuinfo")
def test_processor_reads_the_model_name_and_bfloat16_flags():
    text = Path("/proc/cpuinfo").read_text()
    names = [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")]
    flags = next(ln for ln in text.splitlines() if ln.startswith("flags")).split(":", 1)[1].split()
    cpu = provenance.processor()
    if names:
        assert cpu["model"] == names[0]
    expected = sorted(f for f in ("amx_bf16", "avx512_bf16") if f in flags)
    assert cpu["bfloat16_instructions"] == expected
