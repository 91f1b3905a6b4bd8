"""Issue 8's load run, one minute per store in CI (bench/load.py; by hand: 30 minutes):
mixed traffic against a receiver failing a tenth of requests, then no event lost, no
unexpected answer, `hookwire doctor` healthy and no memory growth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LOAD = Path(__file__).resolve().parents[2] / "bench" / "load.py"


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_minute_of_mixed_traffic_loses_nothing(store: str) -> None:
    done = subprocess.run(
        [sys.executable, str(LOAD), "--minutes", "1", "--store", store, "--sample-s", "5"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "lost 0" in done.stdout and "unexpected answers 0 " in done.stdout
