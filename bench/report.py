"""Markdown from the benchmarks' JSON lines: the issue-5 table and the per-scenario details.

Every scenario script prints one JSON line per measurement with a ``scenario`` key (``drain``,
``latency``, ``retries``, ``publish``, ``growth``) and a ``store`` key (``sqlite``,
``postgres``, or ``ceiling`` for the same work done without hookwire); a measurement that
failed is a line with a ``failed`` key instead of figures. This module only reads those dicts
(no I/O besides /proc and read-only git), so bench/run.py and bench/deliver.py render the same
tables from the same lines.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
STORES: Final = ("sqlite", "postgres")
STORE_LABEL: Final = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
FAN_OUT: Final = 10  # webhooks of the fan-out drain
BAR_RATE: Final = 500.0  # events/s of the latency bar
Line = Mapping[str, Any]


# --- the machine and the tree --------------------------------------------------------------


def first_value(path: str, key: str) -> str:
    """The value of the first `key: value` line of a /proc-style file."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    return "unknown"


def git(*args: str) -> str:
    """A read-only git command (no optional locks: the index is never rewritten)."""
    done = subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True,
                          text=True, check=False)  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else ""


def commit() -> str:
    """``git rev-parse --short HEAD``, plus ``-dirty`` when the tree has uncommitted changes."""
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain") else "")


def machine() -> str:
    """CPU model, cores this process may use, RAM."""
    mem_gib = int(first_value("/proc/meminfo", "MemTotal").split()[0]) / 1024 / 1024
    cores = len(os.sched_getaffinity(0))
    return f"{first_value('/proc/cpuinfo', 'model name')}, {cores} cores, {mem_gib:.1f} GiB RAM"


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M")


def postgres_settings(pg: Mapping[str, str]) -> str:
    """The server settings that decide what a commit costs, as found (never changed)."""
    return (
        f"{pg['server_version']}, synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}, shared_buffers={pg['shared_buffers']}"
    )


# --- finding lines ------------------------------------------------------------------------


def find(lines: Iterable[Line], scenario: str, store: str, **match: Any) -> Line | None:
    """The last line with figures (not a failure) of that scenario, store and fields."""
    found = None
    for line in lines:
        if line.get("scenario") != scenario or line.get("store") != store or "failed" in line:
            continue
        if all(line.get(key) == value for key, value in match.items()):
            found = line
    return found


def failure(lines: Iterable[Line], scenario: str, store: str, **match: Any) -> str | None:
    """Why that measurement failed, if a failure line says so (``store: all`` = the script)."""
    for line in lines:
        if line.get("scenario") != scenario or "failed" not in line:
            continue
        if line.get("store") not in (store, "all"):
            continue
        if all(line.get(key, value) == value for key, value in match.items()):
            return str(line["failed"])
    return None


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio_text(top: float | None, bottom: float | None, suffix: str = "") -> str:
    if top is None or bottom is None or bottom <= 0:
        return ""
    return f" ({top / bottom:,.2f}x{suffix})" if top / bottom < 10 else f" ({top / bottom:,.0f}x)"


# --- the issue-5 table --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One figure: how to pick it from a line, its bar per store (None: informative)."""

    figure: str
    scenario: str
    pick: Callable[[Line], float | None]
    match: Mapping[str, Any]
    digits: int = 0
    bar_text: str = ""
    bar: Mapping[str, Callable[[float, float | None], bool]] | None = None
    ratio_to_ceiling: bool = True
    ceiling_store: str = "ceiling"


def _get(key: str) -> Callable[[Line], float | None]:
    def pick(line: Line) -> float | None:
        value = line.get(key)
        return float(value) if isinstance(value, int | float) else None

    return pick


def _at_least(share: float) -> Callable[[float, float | None], bool]:
    return lambda value, ceiling: ceiling is not None and value >= share * ceiling


def _at_most(limit: float) -> Callable[[float, float | None], bool]:
    return lambda value, _ceiling: value <= limit


def _absolute_at_least(limit: float) -> Callable[[float, float | None], bool]:
    return lambda value, _ceiling: value >= limit


def _drain_row(webhooks: int) -> Row:
    label = "1 webhook" if webhooks == 1 else f"{webhooks} webhooks (fan-out)"
    return Row(
        f"drain, {label}: deliveries/s",
        "drain",
        _get("per_s"),
        {"webhooks": webhooks},
        bar_text="≥ 0.5x ceiling SQLite, ≥ 0.3x PostgreSQL (2 workers)",
        bar={"sqlite": _at_least(0.5), "postgres": _at_least(0.3)},
    )


def _latency_row(rate: float, key: str, bar: bool = False) -> Row:
    name = key.removesuffix("_ms")
    limits = {"sqlite": 25.0, "postgres": 50.0}
    return Row(
        f"publish→arrival {name} ms at {rate:.0f}/s",
        "latency",
        _get(key),
        {"rate": rate},
        digits=1,
        bar_text="≤ 25 ms SQLite, ≤ 50 ms PostgreSQL" if bar else "",
        bar={store: _at_most(limit) for store, limit in limits.items()} if bar else None,
    )


def rows(rates: Sequence[float]) -> list[Row]:
    """Every bar of issue 5, then the informative figures."""
    bars = [
        _drain_row(1),
        _drain_row(FAN_OUT),
        Row("publish over HTTP: events/s (wrk, 32 connections)", "publish", _get("events_per_s"),
            {}, bar_text="≥ 2,000/s", bar={s: _absolute_at_least(2000) for s in STORES}),
        _latency_row(BAR_RATE, "p99_ms", bar=True),
        Row("claim time at 1M / at 10k pending (p50)", "growth", _get("claim_p50_ratio"),
            {"pending": "ratio"}, digits=2, bar_text="≤ 1.5x",
            bar={s: _at_most(1.5) for s in STORES}, ratio_to_ceiling=False),
    ]  # fmt: skip
    informative = [
        _latency_row(rate, key) for rate in rates for key in ("p50_ms", "p95_ms", "p99_ms")
    ]
    informative = [row for row in informative if row.figure != bars[3].figure]
    informative += [
        Row("publish over HTTP: latency p50 ms (wrk)", "publish", _get("p50_ms"), {}, digits=1),
        Row("publish over HTTP: latency p99 ms (wrk)", "publish", _get("p99_ms"), {}, digits=1),
        Row("inbound over HTTP: requests/s verified, stored, published (wrk, 32 connections)",
            "inbound", _get("events_per_s"), {}),
        Row("inbound over HTTP: latency p50 ms (wrk)", "inbound", _get("p50_ms"), {}, digits=1),
        Row("inbound over HTTP: latency p99 ms (wrk)", "inbound", _get("p99_ms"), {}, digits=1),
        Row("retries (10 % answer 500): successful first attempts/s, x the plain drain",
            "retries", _get("first_ok_per_s"), {}, ratio_to_ceiling=False),
        Row("retries: first attempts answered 500 / retried before the end", "retries",
            _get("first_failed"), {}, ratio_to_ceiling=False),
        Row("claim p50 ms at 10k pending", "growth", _get("claim_ms_p50"), {"pending": 10_000},
            digits=2, ratio_to_ceiling=False),
        Row("claim p50 ms at 1M pending", "growth", _get("claim_ms_p50"),
            {"pending": 1_000_000}, digits=2, ratio_to_ceiling=False),
        Row("worker RSS MiB at 10k pending (max)", "growth", _get("worker_rss_mib_max"),
            {"pending": 10_000}, ratio_to_ceiling=False),
        Row("worker RSS MiB at 1M pending (max)", "growth", _get("worker_rss_mib_max"),
            {"pending": 1_000_000}, ratio_to_ceiling=False),
    ]  # fmt: skip
    return bars + informative


def _ceiling_value(lines: Sequence[Line], row: Row) -> float | None:
    if not row.ratio_to_ceiling:
        return None
    line = find(lines, row.scenario, row.ceiling_store, **row.match)
    return row.pick(line) if line else None


def _suffix(line: Line, row: Row) -> str:
    """What a bare number cannot say: capped, lost events, the retried count."""
    notes = []
    if line.get("capped"):
        notes.append("capped")
    lost = int(line.get("send_errors", 0)) + int(line.get("unanswered", 0))
    if row.scenario == "latency" and (lost or line.get("arrived") != line.get("sent")):
        notes.append(f"{line.get('arrived')}/{line.get('sent')} arrived, {lost} sends lost")
    if row.scenario in ("publish", "inbound") and line.get("unexpected_status"):
        notes.append(f"{line['unexpected_status']} not {line.get('expected_status')}")
    return f" ({', '.join(notes)})" if notes else ""


def _cell(lines: Sequence[Line], row: Row, store: str, ceiling: float | None) -> str:
    line = find(lines, row.scenario, store, **row.match)
    if line is None:
        why = failure(lines, row.scenario, store, **row.match)
        return "failed" if why else "-"
    value = row.pick(line)
    text = number(value, row.digits)
    if row.scenario == "retries" and "retried" in row.figure:
        retried = line.get("retried")
        return f"{text} / {number(retried if isinstance(retried, int) else None)}"
    if row.scenario == "retries":
        return text + ratio_text(value, line.get("plain_per_s"), " plain") + _suffix(line, row)
    if row.scenario == "growth" and row.match.get("pending") == "ratio":
        text += "x"
    return text + ratio_text(value, ceiling) + _suffix(line, row)


def _complete(line: Line, scenario: str) -> bool:
    """Whether a figure can meet a bar: not capped, and at a latency every event arrived."""
    if line.get("capped"):
        return False
    if scenario == "latency":
        lost = int(line.get("send_errors", 0)) + int(line.get("unanswered", 0))
        return lost == 0 and line.get("arrived") == line.get("sent")
    return True


def _met(lines: Sequence[Line], row: Row, ceiling: float | None) -> str:
    if row.bar is None:
        return ""
    verdicts = []
    for store, check in row.bar.items():
        line = find(lines, row.scenario, store, **row.match)
        value = row.pick(line) if line else None
        if line is None or value is None:
            if failure(lines, row.scenario, store, **row.match):
                verdicts.append(f"{STORE_LABEL[store]} failed")
            continue
        met = check(value, ceiling) and _complete(line, row.scenario)
        verdicts.append(f"{STORE_LABEL[store]} {'yes' if met else 'NO'}")
    return " · ".join(verdicts) or "-"


def summary_table(lines: Sequence[Line], rates: Sequence[float] = (200.0, 500.0)) -> str:
    """figure | SQLite | PostgreSQL | ceiling | bar | met? — every hookwire figure with its
    ratio to the ceiling of the same run in brackets."""
    out = [
        "| figure | SQLite | PostgreSQL | ceiling | bar | met? |",
        "|---|--:|--:|--:|---|---|",
    ]
    for row in rows(rates):
        ceiling = _ceiling_value(lines, row)
        cells = [_cell(lines, row, store, ceiling) for store in STORES]
        if all(cell == "-" for cell in cells):
            continue
        ceiling_text = number(ceiling, row.digits) if row.ratio_to_ceiling else "-"
        fields = [row.figure, *cells, ceiling_text, row.bar_text, _met(lines, row, ceiling)]
        out.append("| " + " | ".join(fields) + " |")
    return "\n".join(out)


# --- the details --------------------------------------------------------------------------


def cpu_text(cores: Mapping[str, float] | None) -> str:
    return ", ".join(f"{role} {value:.2f}" for role, value in (cores or {}).items()) or "-"


Column = tuple[str, Callable[[Line], str]]


def _field(key: str, digits: int | None = None) -> Callable[[Line], str]:
    def show(line: Line) -> str:
        value = line.get(key)
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else ""
        if isinstance(value, float) and digits is not None:
            return f"{value:,.{digits}f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value).replace("|", "/")

    return show


def _cpu(line: Line) -> str:
    return cpu_text(line.get("cpu"))


_HTTP_COLUMNS: Final[list[Column]] = [
    ("store", _field("store")), ("s", _field("seconds", 1)),
    ("requests", _field("requests")), ("accepted/s", _field("events_per_s", 0)),
    ("p50 ms", _field("p50_ms", 1)), ("p99 ms", _field("p99_ms", 1)),
    ("wrong status", _field("unexpected_status")), ("socket errors", _field("socket_errors")),
    ("deliveries meanwhile", _field("deliveries_during")), ("CPU, cores", _cpu),
    ("notes", _field("note")),
]  # fmt: skip
DETAILS: Final[dict[str, tuple[str, list[Column]]]] = {
    "drain": (
        "Drain: events queued with no worker running, then `hookwire serve` (SQLite) or 2 "
        "`hookwire worker` (PostgreSQL) started; timed from the first to the last arrival. "
        "Ceiling: a plain aiohttp loop with the worker's concurrency posting the same signed "
        "bodies to the same receiver.",
        [("store", _field("store")), ("webhooks", _field("webhooks")),
         ("deliveries", _field("deliveries")), ("arrived", _field("arrived")),
         ("s", _field("seconds", 1)), ("deliveries/s", _field("per_s", 0)),
         ("capped", _field("capped")), ("CPU, cores", _cpu), ("notes", _field("note"))],
    ),
    "latency": (
        "Latency: open-loop publishing over HTTP, arrival at the receiver minus the scheduled "
        "send time (ms).",
        [("store", _field("store")), ("rate/s", _field("rate", 0)), ("s", _field("seconds", 0)),
         ("accepted", _field("sent")), ("failed", _field("send_errors")),
         ("unanswered", _field("unanswered")), ("arrived", _field("arrived")),
         ("p50", _field("p50_ms", 1)), ("p95", _field("p95_ms", 1)),
         ("p99", _field("p99_ms", 1)), ("max", _field("max_ms", 1)), ("CPU, cores", _cpu),
         ("notes", _field("note"))],
    ),
    "retries": (
        "Retries: the drain of 1 webhook against a receiver answering 500 to 10 % of requests "
        "(drawn per request); first attempt = the first request per webhook-id.",
        [("store", _field("store")), ("events", _field("events")),
         ("first attempts", _field("first_attempts")), ("500s", _field("first_failed")),
         ("retried", _field("retried")), ("2xx by the end", _field("delivered")),
         ("s", _field("seconds", 1)), ("first attempts/s", _field("first_attempts_per_s", 0)),
         ("successful first/s", _field("first_ok_per_s", 0)),
         ("plain drain/s", _field("plain_per_s", 0)), ("ratio", _field("ratio", 2)),
         ("capped", _field("capped")), ("CPU, cores", _cpu), ("notes", _field("note"))],
    ),
    "publish": (
        "Publish over HTTP: wrk (1 thread, 32 connections) POSTing the catalog example event; "
        "ceiling: the same script against the receiver (nginx answering 204).",
        _HTTP_COLUMNS,
    ),
    "inbound": (
        "Inbound over HTTP: wrk (1 thread, 32 connections) POSTing a GitHub-signed request "
        "(the example event, a new X-GitHub-Delivery each time) to an inbound webhook; each one "
        "is stored and published to one outbound webhook; ceiling: the same script against "
        "the receiver.",
        _HTTP_COLUMNS,
    ),
}  # fmt: skip


def _table(columns: Sequence[Column], lines: Sequence[Line]) -> str:
    head = "| " + " | ".join(name for name, _ in columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(show(line) for _, show in columns) + " |" for line in lines]
    return "\n".join([head, rule, *body])


def _generic_columns(lines: Sequence[Line]) -> list[Column]:
    keys: list[str] = []
    for line in lines:
        keys += [key for key in line if key not in keys and key not in ("scenario", "bench")]
    return [(key, _field(key, 2)) for key in keys]


def _failure_text(line: Line) -> str:
    named = [str(line.get("scenario")), str(line.get("store"))]
    named += [f"{k}={v}" for k, v in line.items() if k not in ("scenario", "store", "failed")]
    return f"{' '.join(named)}: {line['failed']}"


def details(lines: Sequence[Line]) -> str:
    """One table per scenario, in the order they ran, then the failures."""
    sections = []
    scenarios = list(dict.fromkeys(str(line.get("scenario")) for line in lines))
    for scenario in scenarios:
        measured = [ln for ln in lines if ln.get("scenario") == scenario and "failed" not in ln]
        if not measured:
            continue
        title, columns = DETAILS.get(scenario, (f"{scenario}:", _generic_columns(measured)))
        sections.append(f"{title}\n\n{_table(columns, measured)}")
    failed = [line for line in lines if "failed" in line]
    if failed:
        listed = "\n".join(f"- {_failure_text(line)}" for line in failed)
        sections.append(f"Failed measurements:\n\n{listed}")
    return "\n\n".join(sections)
