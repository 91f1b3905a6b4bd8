"""Where a running hookwire process spends its time: py-spy, summarised.

    .venv/bin/pip install -e '.[bench]'        # py-spy
    .venv/bin/python bench/profile.py PID [--seconds 8] [--rate 250] [--top 40]

Attaches py-spy to PID (``hookwire serve``, ``api`` or ``worker``, while something loads it)
for ``--seconds``, sampling every thread ``--rate`` times a second without stopping it, and
prints the share of busy samples in which a function is on the stack (*inclusive*; hookwire's
own functions marked ``*``, the entry point and event loop left out) and at its top (*self*).
Threads waiting for work are left out; bench/PROFILES.md keeps the profiles issue 5 quoted.
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
OUTER = ("cli.py", "core.py", "main.py", "server.py", "runners.py", "_compat.py", " hookwire")
Counts = collections.Counter[str]


def frame_name(frame: str) -> str:
    """``publish (hookwire/store/flows.py:73)`` -> ``publish flows.py``."""
    function, _, where = frame.partition(" (")
    return f"{function} {where.rsplit('/', 1)[-1].split(':', 1)[0]}".strip()


def summarise(lines: Iterable[str]) -> tuple[int, Counts, Counts]:
    """(busy samples, inclusive counts, self counts) of py-spy's ``--format raw`` output."""
    total, inclusive, own = 0, Counts(), Counts()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        frames = stack.split(";")
        if not stack or not count.isdigit() or any(idle in frames[-1] for idle in IDLE):
            continue
        total += int(count)
        ours = ("(hookwire/", "/src/hookwire/")
        for name in {("* " if any(o in f for o in ours) else "") + frame_name(f) for f in frames}:
            if not name.endswith(OUTER):
                inclusive[name] += int(count)
        own[frame_name(frames[-1])] += int(count)
    return total, inclusive, own


def table(title: str, counts: Counts, total: int, top: int) -> str:
    rows = [f"| {100 * n / total:.1f} % | `{name}` |" for name, n in counts.most_common(top)]
    return "\n".join([f"**{title}** ({total} busy samples)\n", "| share | function |", "|--:|---|",
                      *rows, ""])  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        raw = Path(workdir) / "profile.txt"
        subprocess.run([str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                        str(args.pid), "--duration", f"{args.seconds:.0f}", "--rate",
                        str(args.rate), "--format", "raw", "--nonblocking", "--output", str(raw)],
                       check=True, capture_output=True, timeout=args.seconds + 60)  # fmt: skip
        total, inclusive, own = summarise(raw.read_text(encoding="utf-8").splitlines())
    if not total:
        sys.exit("no busy samples: is the process under load?")
    print(table("inclusive", inclusive, total, args.top))
    print(table("self", own, total, args.top // 2))


if __name__ == "__main__":
    main()
