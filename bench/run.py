"""The benchmark instrument of issue 5, in one command.

    .venv/bin/python bench/run.py [--quick] [--store sqlite|postgres|both]
                                  [--only drain,publish,inbound,latency,growth,retries]
                                  [--events N] [--sizes 10000,1000000] [--no-record]

It runs each scenario script as a child process, one after the other, and collects the JSON
lines they print (each has a ``scenario`` key; they are echoed to stdout as they come, the
scripts' progress goes to stderr):

- bench/deliver.py: ``drain`` (20,000 events to 1 webhook, and to 10 webhooks), ``retries``
  (the same drain against a receiver failing 10 % of requests) and ``latency`` (open loop at
  200 and 500 events/s);
- bench/http_publish.py: ``publish`` (wrk POSTing events over HTTP) and ``inbound`` (wrk
  POSTing GitHub-signed requests to an inbound webhook);
- bench/growth.py: ``growth`` (claim time and worker memory with 10k and 1M pending
  deliveries; skipped with a message while that script does not exist).

Then it appends ONE section to bench/RESULTS.md: date, machine, commit and receiver, the
table "figure | SQLite | PostgreSQL | ceiling | bar | met?" with every bar of the issue and
the informative figures (bench/report.py), then the details per scenario. A script that fails
or times out does not stop the others: its failure is recorded in the table (``failed``) and
in the details, and the command exits non-zero at the end. Ctrl-C or SIGTERM stops the running
script (which cleans up after itself) and records nothing.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import report

ROOT: Final = Path(__file__).resolve().parent.parent
BENCH: Final = ROOT / "bench"
RESULTS: Final = BENCH / "RESULTS.md"
SCENARIOS: Final = ("drain", "publish", "inbound", "latency", "growth", "retries")
STOP_GRACE_S: Final = 90.0  # after SIGTERM, before SIGKILL (the scripts drop their databases)


def progress(message: str) -> None:
    print(f"[run] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Options:
    quick: bool
    store: str
    only: tuple[str, ...]
    events: int | None
    sizes: str | None
    record: bool
    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Script:
    """A scenario script, the scenarios it measures and how to call it."""

    path: Path
    scenarios: tuple[str, ...]
    arguments: Callable[[Options, tuple[str, ...]], list[str]]
    timeout_s: float  # a backstop: the scripts cap every step themselves

    @property
    def name(self) -> str:
        return f"bench/{self.path.name}"


def _common(options: Options) -> list[str]:
    return ["--store", options.store, *(["--quick"] if options.quick else [])]


def _deliver_arguments(options: Options, chosen: tuple[str, ...]) -> list[str]:
    wanted = {"drain": "drain,fanout", "retries": "retries", "latency": "latency"}
    scenarios = ",".join(wanted[name] for name in chosen)
    events = ["--events", str(options.events)] if options.events else []
    return [*_common(options), "--scenarios", scenarios, *events]


def _publish_arguments(options: Options, chosen: tuple[str, ...]) -> list[str]:
    return [*_common(options), "--scenarios", ",".join(chosen)]


def _growth_arguments(options: Options, _chosen: tuple[str, ...]) -> list[str]:
    return [*_common(options), *(["--sizes", options.sizes] if options.sizes else [])]


SCRIPTS: Final = (
    Script(BENCH / "deliver.py", ("drain", "retries", "latency"), _deliver_arguments, 45 * 60),
    Script(BENCH / "http_publish.py", ("publish", "inbound"), _publish_arguments, 25 * 60),
    Script(BENCH / "growth.py", ("growth",), _growth_arguments, 45 * 60),
)


@dataclass(slots=True)
class Run:
    """Everything collected: the JSON lines, and what happened to each script."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)  # "bench/x.py: exit 0 after 3.2 min"
    failed: bool = False
    child: subprocess.Popen[bytes] | None = None
    interrupted: bool = False
    timed_out: bool = False  # the running script overran its timeout


def collect(run: Run, raw: bytes) -> None:
    """Keep (and echo) a JSON line with a ``scenario``; the scripts' other output is dropped
    (bench/deliver.py writes its own markdown to bench/results-deliver.md)."""
    text = raw.decode(errors="replace").strip()
    if not text.startswith("{"):
        return
    try:
        line = orjson.loads(text)
    except orjson.JSONDecodeError:
        return
    if isinstance(line, dict) and "scenario" in line:
        run.lines.append(line)
        print(text, flush=True)


def stop_child(run: Run) -> None:
    """SIGTERM to the running script (it stops its processes and drops its database), then
    SIGKILL if it is still there STOP_GRACE_S later."""
    child = run.child
    if child is None or child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    threading.Timer(STOP_GRACE_S, kill_if_running, (child,)).start()


def kill_if_running(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.kill()


def time_out(run: Run) -> None:
    run.timed_out = True
    stop_child(run)


def run_script(run: Run, script: Script, chosen: tuple[str, ...], options: Options) -> None:
    """One script as a child process (its own session: a signal to this process is forwarded
    once, by :func:`stop_child`); its JSON lines collected; a failure recorded."""
    argv = [sys.executable, str(script.path), *script.arguments(options, chosen)]
    progress(f"{' '.join([script.name, *argv[2:]])} ...")
    started = time.monotonic()
    child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, start_new_session=True)
    run.child, run.timed_out = child, False
    timer = threading.Timer(script.timeout_s, time_out, (run,))
    timer.start()
    try:
        assert child.stdout is not None
        for raw in child.stdout:
            collect(run, raw)
        code = child.wait()
    finally:
        timer.cancel()
        run.child = None
    minutes = (time.monotonic() - started) / 60
    run.scripts.append(f"{script.name}: exit {code} after {minutes:.1f} min")
    progress(run.scripts[-1])
    if code != 0 and not run.interrupted:
        timed_out = f" (stopped after its {script.timeout_s / 60:.0f} min)" if run.timed_out else ""
        why = f"{script.name} exited with {code}{timed_out}"
        fail_all(run, chosen, why + "; its stderr says why")


def fail_all(run: Run, scenarios: Sequence[str], why: str) -> None:
    """Record a whole script's failure: every figure of its scenarios that has no line."""
    run.failed = True
    for scenario in scenarios:
        run.lines.append({"scenario": scenario, "store": "all", "failed": why})


def section(run: Run, options: Options, started: dict[str, str], wall_s: float) -> str:
    """The markdown appended to RESULTS.md."""
    receivers = sorted({str(line["receiver"]) for line in run.lines if line.get("receiver")})
    command = " ".join([".venv/bin/python", "bench/run.py", *options.argv])
    facts = [
        f"- date (UTC): {started['date']}; wall time {wall_s / 60:.1f} min",
        f"- machine: {started['machine']}",
        f"- load average at start: {started['load']}; at end: {report.load_average()}",
        f"- commit: {started['commit']}",
        f"- receiver: {', '.join(receivers) or '-'}",
        f"- command: `{command}`",
        *(f"- {done}" for done in run.scripts),
    ]
    rates = sorted({float(ln["rate"]) for ln in run.lines if isinstance(ln.get("rate"), float)})
    return "\n\n".join(
        [
            f"## issue 5: hookwire against its bars (bench/run.py), {started['date']}",
            "\n".join(facts),
            report.summary_table(run.lines, rates or (200.0, 500.0)),
            "In brackets: the ratio to the ceiling of the same run (retries: to the plain "
            "drain of the same run). `failed`: see the failures below; `-`: not measured. "
            "CPU in cores (of 2) from /proc: `other` is the rest of the machine's busy time.",
            "### Details\n\n" + report.details(run.lines),
        ]
    )


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter latency and wrk runs")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated, of {','.join(SCENARIOS)}")  # fmt: skip
    parser.add_argument("--events", type=int, help="events per drain (bench/deliver.py)")
    parser.add_argument("--sizes", help="pending deliveries (bench/growth.py), e.g. 10000,1000000")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    raw = tuple(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    if not only or set(only) - set(SCENARIOS):
        parser.error(f"--only takes a comma-separated list of {', '.join(SCENARIOS)}")
    if args.events is not None and args.events < 1:
        parser.error("--events must be positive")
    return Options(args.quick, args.store, only, args.events, args.sizes, not args.no_record, raw)


def interrupt(run: Run) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        progress(f"{signal.Signals(signum).name}: stopping the running script, recording nothing")
        run.interrupted = True
        stop_child(run)

    return handler


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_options(argv)
    run = Run()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt(run))
    started_at = time.monotonic()
    started = {"date": report.utc_now(), "machine": report.machine(),
               "load": report.load_average(), "commit": report.commit()}  # fmt: skip
    for script in SCRIPTS:
        chosen = tuple(name for name in script.scenarios if name in options.only)
        if not chosen or run.interrupted:
            continue
        if not script.path.exists():
            message = f"{script.name} does not exist (yet): {', '.join(chosen)} skipped"
            progress(message)
            run.scripts.append(message)
            continue
        run_script(run, script, chosen, options)
    if run.interrupted:
        raise SystemExit(130)
    text = section(run, options, started, time.monotonic() - started_at)
    print("\n" + text, flush=True)
    if options.record:
        with RESULTS.open("a", encoding="utf-8") as results:
            results.write("\n" + text + "\n")
        progress(f"appended to {RESULTS.relative_to(ROOT)}")
    progress(f"whole run {(time.monotonic() - started_at) / 60:.1f} min")
    if run.failed or any("failed" in line for line in run.lines):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
