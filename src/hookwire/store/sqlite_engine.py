"""SQLite from asyncio: one writer thread that group-commits, readers in a thread pool.

SQLite allows one writer at a time; many concurrent small transactions each paying an fsync is
what makes it slow. So every write is a function of a connection, queued to the single writer
thread, which takes whatever is queued (up to ``MAX_BATCH``), runs each function inside its own
SAVEPOINT of one transaction, and commits once. A failing function rolls back only its own
savepoint and gets its exception; the others commit. Reads run on a small pool of read-only
connections, which WAL mode lets proceed while the writer works.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from hookwire.errors import StoreUnavailable

T = TypeVar("T")
MAX_BATCH: Final = 256
_STOP: Final = object()


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    transaction: bool


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _deliver(job: _Job, result: Any, error: BaseException | None) -> None:
    with contextlib.suppress(RuntimeError):  # the caller's loop has closed: nobody to tell
        job.loop.call_soon_threadsafe(_settle, job.future, result, error)


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.Error):
        error = StoreUnavailable(f"SQLite error: {exc}")
        error.__cause__ = exc
        return error
    return exc


class SQLiteEngine:
    """Owns the connections to one SQLite file."""

    def __init__(self, path: str, readers: int = 4) -> None:
        if path in {"", ":memory:"} or path.startswith("file::memory:"):
            raise ValueError("SQLite needs a file: readers and the writer share it")
        self.path = path
        self._jobs: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-read")
        self._local = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connect(self, *, readonly: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        if readonly:
            conn.execute("PRAGMA query_only = ON")
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def start(self) -> None:
        """Open the writer connection (creating the file) and start the writer thread."""
        try:
            writer = self._connect(readonly=False)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._writer = threading.Thread(
            target=self._write_loop, args=(writer,), name="sqlite-writer", daemon=True
        )
        self._writer.start()

    async def write(self, fn: Callable[[sqlite3.Connection], T], *, transaction: bool = True) -> T:
        """Run ``fn`` on the writer connection, inside a group-committed transaction unless
        ``transaction`` is False (then ``fn`` manages its own, as migrations do)."""
        if self._writer is None:
            raise StoreUnavailable("the SQLite store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, future, loop, transaction))
        return await future

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on a read-only connection of the pool."""
        if self._writer is None:
            raise StoreUnavailable("the SQLite store is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._read, fn)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite error: {exc}") from exc

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(readonly=True)
            self._local.conn = conn
            with self._lock:
                self._reader_connections.append(conn)
        return fn(conn)

    async def close(self) -> None:
        if self._writer is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._reader_connections:
                conn.close()
            self._reader_connections.clear()

    # --- the writer thread -------------------------------------------------------------

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                first = self._jobs.get()
                if first is _STOP:
                    return
                batch, stop = self._drain(first)
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _drain(self, first: object) -> tuple[list[_Job], bool]:
        batch = [first] if isinstance(first, _Job) else []
        while len(batch) < MAX_BATCH:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return batch, False
            if not isinstance(item, _Job):
                return batch, True
            batch.append(item)
        return batch, False

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        grouped = [job for job in batch if job.transaction]
        for job in batch:
            if not job.transaction:
                self._run_alone(conn, job)
        if grouped:
            self._run_grouped(conn, grouped)

    def _run_alone(self, conn: sqlite3.Connection, job: _Job) -> None:
        try:
            result, error = job.fn(conn), None
        except BaseException as exc:
            result, error = None, _translate(exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        _deliver(job, result, error)

    def _run_grouped(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                outcomes.append(self._run_in_savepoint(conn, job))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = _translate(exc)
            outcomes = [(None, failure)] * len(batch)
        for job, (result, error) in zip(batch, outcomes, strict=True):
            _deliver(job, result, error)

    @staticmethod
    def _run_in_savepoint(conn: sqlite3.Connection, job: _Job) -> tuple[Any, BaseException | None]:
        conn.execute("SAVEPOINT job")
        try:
            result = job.fn(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return None, _translate(exc)
        conn.execute("RELEASE job")
        return result, None
