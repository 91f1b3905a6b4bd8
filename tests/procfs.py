"""What /proc says of a process: its resident memory and its children (Linux only, as CI)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` in MB (0 when it has gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int, marker: bytes = b"") -> list[int]:
    """The processes whose parent is ``pid`` (and whose command line holds ``marker``)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            # the command name (field 2) is in parentheses and may hold spaces
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and marker in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def tree_rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` and all its descendants, in MB: the API process and the
    schema sandbox it starts."""
    total, pending = rss_mb(pid), children(pid)
    while pending:
        child = pending.pop()
        total += rss_mb(child)
        pending.extend(children(child))
    return total
