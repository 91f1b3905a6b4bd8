"""Tools the tests drive that come from Debian's packages (chromium, Go): found on the PATH,
or installed with apt-get as .ci/run does. A tool that can be neither found nor installed
fails the test that needs it: CI must not pass by leaving a check out."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def tool(binary: str, package: str) -> str:
    found = shutil.which(binary)
    if found is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
            subprocess.run(step, env=env, check=False, capture_output=True, timeout=900)
        found = shutil.which(binary)
    if found is None:
        pytest.fail(f"this test needs {binary}: apt-get install {package}")
    return found
