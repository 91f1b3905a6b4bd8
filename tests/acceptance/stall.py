"""The stall probe (docs/reliability.md): how long one request keeps a real server's event loop from
answering anyone else, compared with a benign twin of the same size.

While a request is in flight, a probe asks ``GET /healthz`` back to back over its own
keep-alive connection; a measurement's stall is the longest probe round trip that overlapped
the request (the probe starts before the request is sent and its last round trip, begun before
the answer arrived, is waited for). The request itself goes over a raw socket (so that 50,000
headers or one of 200 KB can be sent at all) with ``Connection: close``; everything the server
wrote before closing is kept, even when it closed while the request was still being sent.

A hostile case passes when the least stall of up to ``RUNS`` runs is within ``ALLOWANCE_S`` of
its twin's (itself the least of ``RUNS``): absolute timings vary 2-3x between machines and CI
neighbours, the same request's linear work does not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx
import pytest

# The twin's stall plus this much. The twins stall for 2-20 ms on a loaded 2-core machine and
# the minimum of three runs keeps a GC pause or a scheduler slice (10-20 ms) out; the
# defects found stall for 0.5-10 s. 50 ms is ten times below the smallest defect and still
# fails an "only" quadratic blow-up long before it can freeze a busy server.
ALLOWANCE_S = 0.050
RUNS = 3
# A run over the limit by more than this is no scheduler noise: the case has failed, and its
# remaining runs would only cost CI seconds of a frozen server.
GROSS_S = 1.0
TIMEOUT_S = 30.0  # one request's bound; a request that takes longer failed
MAX_ANSWER = 100_000  # bytes: no error answer needs to be bigger
NO_ANSWER, TIMED_OUT = 0, -1  # statuses of a connection closed without one, and of a timeout


@dataclass(frozen=True)
class RawRequest:
    """One HTTP/1.1 request, written as is: any number of headers, of any size."""

    method: str
    target: str
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.target} HTTP/1.1", f"Host: {host}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body or self.method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def label(status: int) -> str:
    return {NO_ANSWER: "no answer", TIMED_OUT: "timeout"}.get(status, str(status))


@dataclass(frozen=True)
class Answer:
    status: int  # or NO_ANSWER, TIMED_OUT
    body: bytes
    seconds: float


class _Collect(asyncio.Protocol):
    """Keeps every byte received until the connection ends, however it ends."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _unchunk(body: bytes) -> bytes:
    out, rest = bytearray(), body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


def _parse(raw: bytes, seconds: float) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return Answer(NO_ANSWER, raw, seconds)
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return Answer(int(parts[1]), body, seconds)


async def send(host: str, port: int, request: RawRequest) -> Answer:
    """``request`` on a new connection; the answer, or TIMED_OUT after ``TIMEOUT_S``."""
    raw = request.encode(f"{host}:{port}")
    start = time.perf_counter()
    transport, protocol = await asyncio.get_running_loop().create_connection(_Collect, host, port)
    transport.write(raw)
    try:
        await asyncio.wait_for(asyncio.shield(protocol.closed), TIMEOUT_S)
    except TimeoutError:
        transport.abort()
        return Answer(TIMED_OUT, b"", time.perf_counter() - start)
    return _parse(bytes(protocol.data), time.perf_counter() - start)


class Probe:
    """``GET /healthz`` back to back on one keep-alive connection, from the first answer on;
    ``longest`` is the longest round trip after that first one, ``failures`` counts the ones
    that were not a 200 (a timeout included)."""

    def __init__(self, base_url: str) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._client = httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT_S, limits=limits)
        self._stop = False
        self._warm = asyncio.Event()
        self.longest = 0.0
        self.failures = 0

    async def _round_trip(self) -> None:
        start = time.perf_counter()
        try:
            ok = (await self._client.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            ok = False
        if self._warm.is_set():
            self.longest = max(self.longest, time.perf_counter() - start)
            self.failures += not ok
        self._warm.set()

    async def _loop(self) -> None:
        while not self._stop:
            await self._round_trip()

    async def __aenter__(self) -> Probe:
        self._task = asyncio.create_task(self._loop())
        await asyncio.wait_for(self._warm.wait(), TIMEOUT_S)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop = True  # the round trip under way overlapped the request: it counts
        await self._task
        await self._client.aclose()


@dataclass(frozen=True)
class Run:
    answer: Answer
    stall: float
    probe_failures: int


async def measure(base_url: str, host: str, port: int, request: RawRequest) -> Run:
    """One request with the probe running around it."""
    async with Probe(base_url) as probe:
        answer = await send(host, port, request)
    return Run(answer, probe.longest, probe.failures)


@dataclass
class Runs:
    """A side's runs; ``least`` is the one that stalled least."""

    runs: list[Run] = field(default_factory=list)

    @property
    def least(self) -> Run:
        return min(self.runs, key=lambda r: r.stall)

    def statuses(self) -> list[int]:
        return [r.answer.status for r in self.runs]


async def repeat(one: Callable[[int], Awaitable[Run]], limit: float | None = None) -> Runs:
    """Up to ``RUNS`` runs of ``one(run_number)``. With a ``limit``, a run within it ends the
    series (the least can only be lower), and so does one over it by ``GROSS_S``."""
    done = Runs()
    for number in range(RUNS):
        done.runs.append(await one(number))
        stall = done.runs[-1].stall
        if limit is not None and (stall <= limit or stall > limit + GROSS_S):
            break
    return done


# --- the table in the CI log -----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    case: str
    store: str
    status: str
    twin_status: str
    stall_ms: float
    twin_stall_ms: float
    request_ms: float
    answer_kb: float
    verdict: str

    def line(self) -> str:
        return (
            f"{self.case:<24} {self.store:<8} {self.status:>11} {self.twin_status:>11} "
            f"{self.stall_ms:>9.1f} {self.twin_stall_ms:>9.1f} {self.request_ms:>9.1f} "
            f"{self.answer_kb:>8.1f}  {self.verdict}"
        )


HEADER = (
    f"{'case':<24} {'store':<8} {'status':>11} {'twin':>11} {'stall ms':>9} {'twin ms':>9} "
    f"{'req ms':>9} {'answ KB':>8}  verdict"
)


class Table:
    """The figures of every case, printed at the end of the run (and each row as it comes,
    under ``-s``). Registered as a pytest plugin for its terminal summary."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, row: Row) -> None:
        if not self.rows:
            print(f"\n{HEADER}")
        self.rows.append(row)
        print(f"\n{row.line()}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.rows:
            return
        terminalreporter.section("hostile requests: event-loop stalls")
        terminalreporter.write_line(HEADER)
        for row in sorted(self.rows, key=lambda r: (r.store, r.case)):
            terminalreporter.write_line(row.line())
