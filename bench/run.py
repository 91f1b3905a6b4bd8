"""The benchmarks in one command: each scenario script in turn, then one table of their figures,
the ratios to the ceilings measured in the same run, and issue 5's bars.

    .venv/bin/python bench/run.py [--quick] [--store sqlite|postgres|both] [--no-record]
        [--only drain,fanout,retries,latency,publish,inbound,growth]
        [--events 20000] [--sizes 10000,1000000]

The scripts run one after the other as child processes; each prints its JSON lines (and
appends them to bench/results/ unless --no-record), and this command reads them from their
stdout. A script that fails or overruns (45 min) does not stop the others; the command then
exits 1. Ctrl-C or SIGTERM stops the running script, which cleans up after itself.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import orjson

BENCH: Final = Path(__file__).resolve().parent
SCRIPTS: Final = {
    "deliver.py": ("drain", "fanout", "retries", "latency"),
    "http_publish.py": ("publish", "inbound"),
    "growth.py": ("growth",),
}
# per scenario: the fields that tell its measurements apart, and the figures shown
FIGURES: Final = {
    "drain": (("webhooks",), ("per_s", "startup_s")),
    "retries": ((), ("first_ok_per_s", "first_failed", "retried")),
    "latency": (("rate",), ("p50_ms", "p95_ms", "p99_ms", "api_ready_s")),
    "publish": ((), ("events_per_s", "p50_ms", "p99_ms")),
    "inbound": ((), ("events_per_s", "p50_ms", "p99_ms")),
    "growth": (("pending",), ("claim_ms_p50", "worker_rss_mib_max", "startup_s")),
}
Check = Callable[[str, float, float | None], bool]  # store, value, ratio → met
BARS: Final[dict[tuple[str, str], tuple[str, Check]]] = {
    ("drain", "per_s"): ("≥ 0.5x SQLite, ≥ 0.3x PostgreSQL",
                         lambda s, _, r: r is not None and r >= (0.5 if s == "sqlite" else 0.3)),
    ("publish", "events_per_s"): ("≥ 2,000/s", lambda _, v, __: v >= 2000),
    ("latency", "p99_ms"): ("at 500/s: ≤ 25 ms SQLite, ≤ 50 ms PostgreSQL",
                            lambda s, v, _: v <= (25 if s == "sqlite" else 50)),
    ("growth", "claim_ms_p50"): ("largest size: ≤ 1.5x the smallest",
                                 lambda _, __, r: r is not None and r <= 1.5),
}  # fmt: skip
STORES: Final = ("sqlite", "postgres")
Line = dict[str, Any]


def cell(line: Line | None, key: str) -> tuple[str, bool]:
    """The text of one figure (its ratio in brackets, what spoils it) and whether it can meet a
    bar: measured, not capped, no event lost, no wrong answer."""
    if line is None or "failed" in line or line.get(key) is None:
        return ("failed" if line and "failed" in line else "-"), False
    ratio = line.get("ratios", {}).get(key)
    text = f"{line[key]:,.2f}".rstrip("0").rstrip(".") + (f" ({ratio:.2f}x)" if ratio else "")
    lost = line.get("send_errors", 0) + line.get("unanswered", 0)
    lost += line["sent"] - line["arrived"] if "sent" in line else 0  # latency: sends lost
    spoilt = [flag for flag, on in (("capped", line.get("capped")), (f"{lost} lost", lost),
              ("wrong answers", line.get("unexpected_status"))) if on]  # fmt: skip
    return text + (f" ({', '.join(spoilt)})" if spoilt else ""), not spoilt


def table(lines: Sequence[Line]) -> str:
    out = ["| scenario | figure | SQLite | PostgreSQL | ceiling | bar | met? |",
           "|---|---|--:|--:|--:|---|---|"]  # fmt: skip
    for scenario, (fields, keys) in FIGURES.items():
        mine = [line for line in lines if line.get("scenario") == scenario]
        idents = list(dict.fromkeys(tuple(line.get(f) for f in fields) for line in mine))
        for ident in idents:
            match = [ln for ln in mine if tuple(ln.get(f) for f in fields) == ident]
            last = {ln["store"]: ln for ln in match}  # the last line per store
            name = " ".join([scenario, *(f"{f}={v}" for f, v in zip(fields, ident, strict=True))])
            for key in keys:
                cells = {store: cell(last.get(store), key) for store in (*STORES, "ceiling")}
                if all(text == "-" for text, _ in cells.values()):
                    continue
                bar, check = BARS.get((scenario, key), ("", None))
                elsewhere = {"latency": ident != (500.0,), "growth": ident != max(idents)}
                if check is None or elsewhere.get(scenario):
                    bar, check = "", lambda *_: False
                verdicts = []
                for store in STORES if bar else ():
                    if (text_ok := cells[store]) and text_ok[0] != "-":
                        line = last[store]
                        met = text_ok[1] and check(
                            store, line[key], line.get("ratios", {}).get(key)
                        )
                        verdicts.append(f"{store} {'yes' if met else 'NO'}")
                texts = [cells[store][0] for store in (*STORES, "ceiling")]
                out.append("| " + " | ".join([name, key, *texts, bar, " · ".join(verdicts)]) + " |")
    return "\n".join(out)


def arguments(script: str, chosen: Sequence[str], args: argparse.Namespace) -> list[str]:
    argv = ["--store", args.store] + ["--quick"] * args.quick + ["--no-record"] * args.no_record
    if script == "growth.py":
        return argv + (["--sizes", args.sizes] if args.sizes else [])
    argv += ["--scenarios", ",".join(chosen)]
    return argv + (["--events", str(args.events)] if args.events and script == "deliver.py" else [])


def run_script(
    script: str, argv: list[str], lines: list[Line], running: list[subprocess.Popen[bytes]]
) -> int:
    """One script as a child in its own session; its JSON lines collected and echoed."""
    print(f"[run] bench/{script} {' '.join(argv)}", file=sys.stderr, flush=True)
    child = subprocess.Popen([sys.executable, str(BENCH / script), *argv], cwd=BENCH.parent,
                             stdout=subprocess.PIPE, start_new_session=True)  # fmt: skip
    running[:] = [child]
    timer = threading.Timer(45 * 60, child.terminate)
    timer.start()
    try:
        for raw in child.stdout or ():
            if raw.startswith(b"{") and "scenario" in (line := orjson.loads(raw)):
                lines.append(line)
                print(raw.decode().strip(), flush=True)
        return child.wait()
    finally:
        timer.cancel()


def main(argv: Sequence[str] | None = None) -> None:
    scenarios = [name for names in SCRIPTS.values() for name in names]
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter timed runs")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--only", default=",".join(scenarios), help=f"of {','.join(scenarios)}")
    parser.add_argument("--events", type=int, help="events per drain (bench/deliver.py)")
    parser.add_argument("--sizes", help="pending deliveries (bench/growth.py)")
    parser.add_argument("--no-record", action="store_true", help="write no JSON line")
    args = parser.parse_args(argv)
    if set(only := args.only.split(",")) - set(scenarios):
        parser.error(f"--only takes a comma-separated list of {', '.join(scenarios)}")
    lines: list[Line] = []
    running: list[subprocess.Popen[bytes]] = []
    stopped = threading.Event()

    def interrupt(_signum: int, _frame: object) -> None:
        stopped.set()
        for child in running:
            child.terminate()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)
    failed = []
    for script, names in SCRIPTS.items():
        if (chosen := [name for name in names if name in only]) and not stopped.is_set():
            code = run_script(script, arguments(script, chosen, args), lines, running)
            failed += [f"bench/{script} exited with {code}"] if code else []
    if stopped.is_set():
        raise SystemExit(130)
    print(f"\n{table(lines)}\n\nIn brackets: the ratio to the ceiling of the same run (retries: "
          "to the plain drain; growth: to the smallest size).", flush=True)  # fmt: skip
    print(f"[run] {'; '.join(failed) or 'every script exited with 0'}", file=sys.stderr)
    raise SystemExit(1 if failed or any("failed" in line for line in lines) else 0)


if __name__ == "__main__":
    main()
