"""Where a running hookwire process spends its time: py-spy, summarised (issue 5).

    .venv/bin/pip install -e '.[bench]'        # py-spy
    .venv/bin/python bench/profile.py PID [--seconds 8] [--rate 250] [--top 40]

Attaches py-spy to PID (``hookwire serve``, ``api`` or ``worker``, while something loads it:
bench/run.py, wrk, or bench/http_publish.py) for ``--seconds``, sampling every thread
``--rate`` times a second without stopping the process (``--nonblocking``), and prints two
tables: the share of the samples in which a function is on the stack (*inclusive*: the
function and everything it calls; hookwire's own functions marked ``*``, the entry point and
event loop frames left out) and at the top of the stack (*self*). Threads that wait
(the thread pool's idle workers, the SQLite writer waiting for work, the event loop in
``select``) still count as samples, so compare rows with each other, not with 100 %.
bench/PROFILES.md holds the summaries the closing notes of issue 5 quote.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

IDLE = ("threading.py", "queue.py", "concurrent/futures/thread.py", "selectors.py")


def frame_name(frame: str) -> str:
    """``publish_in (hookwire/store/sqlite_writes.py:73)`` -> ``publish_in sqlite_writes.py``."""
    function, _, where = frame.partition(" (")
    file = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{function} {file}".strip()


Counts = collections.Counter[str]
OUTER = ("cli.py", "core.py", "main.py", "server.py", "runners.py", "_compat.py", " hookwire")


def ours(frame: str) -> bool:
    return "(hookwire/" in frame or "/src/hookwire/" in frame


def summarise(lines: Iterable[str]) -> tuple[int, Counts, Counts]:
    """(samples, inclusive counts, self counts) of py-spy's ``--format raw`` output;
    inclusive counts of hookwire's own functions are marked with ``*``."""
    total = 0
    inclusive: Counts = collections.Counter()
    own: Counts = collections.Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(marker in frames[-1] for marker in IDLE):
            continue  # a thread waiting for work
        samples = int(count)
        total += samples
        for name in {("* " if ours(f) else "") + frame_name(f) for f in frames}:
            if not name.endswith(OUTER):  # the entry point and the event loop: always there
                inclusive[name] += samples
        own[frame_name(frames[-1])] += samples
    return total, inclusive, own


def table(title: str, counts: Counts, total: int, top: int) -> str:
    rows = [f"| {100 * n / total:.1f} % | `{name}` |" for name, n in counts.most_common(top)]
    return "\n".join([f"**{title}** ({total} busy samples)", "", "| share | function |",
                      "|--:|---|", *rows, ""])  # fmt: skip


def record(pid: int, seconds: float, rate: int) -> list[str]:
    with tempfile.TemporaryDirectory() as workdir:
        raw = Path(workdir) / "profile.txt"
        argv = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
                "--duration", f"{seconds:.0f}", "--rate", str(rate), "--format", "raw",
                "--nonblocking", "--output", str(raw)]  # fmt: skip
        subprocess.run(argv, check=True, capture_output=True, timeout=seconds + 60)
        return raw.read_text(encoding="utf-8").splitlines()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=40)
    options = parser.parse_args(argv)
    total, inclusive, own = summarise(record(options.pid, options.seconds, options.rate))
    if not total:
        sys.exit("no busy samples: is the process under load?")
    print(table("inclusive", inclusive, total, options.top))
    print(table("self", own, total, options.top // 2))


if __name__ == "__main__":
    main()
