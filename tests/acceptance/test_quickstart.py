"""docs/quickstart.md, followed command by command: it must end with a delivered, verified event.

The commands are read from the document itself and run in bash as written, with two
liberties: the first block's install steps are left out (the test runs in this virtualenv,
linked as ``.venv``; a fresh one was checked by hand), and ports 8000 and 9000 become free
ports, so that the test cannot collide with anything else on the machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.acceptance.processes import clean_env, free_port

QUICKSTART = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"


def blocks(ports: dict[str, str]) -> list[str]:
    found = re.findall(r"```sh\n(.+?)\n```", QUICKSTART.read_text(), flags=re.S)
    assert len(found) == 5, "the quickstart's four steps and the test command"
    readme = (QUICKSTART.parents[1] / "README.md").read_text()
    assert found.pop() in readme  # the README's test command, as it is there
    for old, new in ports.items():
        found = [
            block.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}").replace(
                f"--port {old}", f"--port {new}"
            )
            for block in found
        ]
    return found


def start(command: str, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``command`` as a terminal would run it, in a process group of its own (stopped whole)."""
    with log.open("wb") as sink:
        return subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def wait_for(log: Path, text: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{text!r} not seen:\n{log.read_text()}"
        time.sleep(0.1)


def test_the_quickstart_ends_with_a_delivered_verified_event(tmp_path: Path) -> None:
    api_port, listen_port = str(free_port()), str(free_port())
    serve, create, listen, publish = blocks({"8000": api_port, "9000": listen_port})
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    env = clean_env(HOOKWIRE_PORT=api_port)  # `serve` listens where the blocks now point
    started = []
    try:
        server = start(serve.rsplit(" && ", 1)[-1], tmp_path, env, tmp_path / "serve.log")
        started.append(server)
        wait_for(tmp_path / "serve.log", "Application startup complete", server)
        script = create + '\nprintf "%s\\n" "$TOKEN"'
        made = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert made.returncode == 0, made.stderr
        secret, token = made.stdout.split()[-2:]
        assert secret.startswith("whsec_") and token.startswith("eyJ")
        receiver = start(listen.replace("<the secret>", secret), tmp_path, env,
                         tmp_path / "listen.log")  # fmt: skip
        started.append(receiver)
        wait_for(tmp_path / "listen.log", "listening on", receiver)
        sent = subprocess.run(["bash", "-c", publish], cwd=tmp_path, env={**env, "TOKEN": token},
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert '"deliveries":1' in sent.stdout, sent.stdout + sent.stderr
        wait_for(tmp_path / "listen.log", "verified webhook_test evt_", receiver)
    finally:
        for process in started:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
    assert '{"test":true}' in (tmp_path / "listen.log").read_text()
