"""Tenants' JSON Schemas checked and run in child processes (``python -m hookwire.sandbox``),
each answering one request at a time within a time limit and a memory limit.

A child that does not answer within its time, or dies (over its memory, or worse), is killed
and replaced, and the request is a 422 that says so: the event loop of the process that asked
only ever waits on a pipe. Children start on first use (a process that never checks a tenant
schema, like ``hookwire worker``, starts none) and stop with :meth:`Sandbox.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

from hookwire.domain.event_type import EventType
from hookwire.errors import BackendUnavailable, FieldError
from hookwire.sandbox.protocol import CACHE_ENTRIES, FrameError, encode, read_frame_async

WORKERS: Final = 2
TIME_LIMIT_S: Final = 1.0  # one check or validation, in the child
MEMORY_LIMIT: Final = 1024 * 1024 * 1024  # each child's address space
QUEUE_LIMIT_S: Final = 10.0  # waiting for a free child, at most
START_LIMIT_S: Final = 30.0  # a child's imports, before it says it is ready


_BUSY: Final = "every schema check is busy; retry"


class SandboxFailed(Exception):
    """A child did not answer: over its time or memory, or it failed."""


@dataclass(slots=True)
class _Share:
    slots: asyncio.Semaphore
    users: int = 0  # requests holding or waiting for a slot


class _Shares:
    """At most ``limit`` requests of one tenant in the children at once (one more waits, up
    to QUEUE_LIMIT_S, and is woken alone when a slot frees); tenants with none are forgotten."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._tenants: dict[str, _Share] = {}

    @contextlib.asynccontextmanager
    async def hold(self, tenant: str) -> AsyncIterator[None]:
        share = self._tenants.get(tenant)
        if share is None:
            share = self._tenants[tenant] = _Share(asyncio.Semaphore(self._limit))
        share.users += 1
        try:
            try:
                async with asyncio.timeout(QUEUE_LIMIT_S):
                    await share.slots.acquire()
            except TimeoutError:
                raise BackendUnavailable(_BUSY) from None
            try:
                yield
            finally:
                share.slots.release()
        finally:
            share.users -= 1
            if not share.users:
                del self._tenants[tenant]


@dataclass(slots=True)
class _Child:
    process: asyncio.subprocess.Process
    known: set[str]  # schema keys this child has compiled

    async def ask(self, message: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(encode(message))
        await self.process.stdin.drain()
        return await read_frame_async(self.process.stdout)

    async def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


class Sandbox:
    """The pool of children; the only way hookwire runs a tenant's schema. One tenant's
    requests hold at most ``workers - 1`` children at once (one when there is only one), so a
    tenant whose schemas run to the time limit slows its own requests, not everyone's."""

    def __init__(
        self,
        *,
        workers: int = WORKERS,
        time_limit_s: float = TIME_LIMIT_S,
        memory_limit: int = MEMORY_LIMIT,
    ) -> None:
        self.time_limit_s = time_limit_s
        self._workers, self._memory = workers, memory_limit
        self._idle: asyncio.Queue[_Child | None] | None = None
        self._children: list[_Child] = []
        self._shares = _Shares(max(1, workers - 1))
        self._replacing: set[asyncio.Task[None]] = set()

    async def check(
        self, tenant: str, schema: Any, example: Any, has_example: bool
    ) -> list[FieldError]:
        """Why ``tenant`` may not store ``schema`` (with ``example``), pointed into the body."""
        message = {"op": "check", "schema": schema, **({"example": example} if has_example else {})}
        try:
            answer = await self._ask(tenant, message)
        except SandboxFailed as exc:
            return [FieldError("/schema", f"could not be checked: {exc}; simplify it")]
        return [FieldError(path, text) for path, text in answer["errors"]]

    async def errors(self, event_type: EventType, document: Any, base: str) -> list[FieldError]:
        """Every violation of a tenant type's schema (compiled once per child and version)
        by ``document``, pointed under ``base``."""
        name, tenant = event_type.name, event_type.tenant_id or ""
        key = f"{event_type.version}/{name}/{tenant}"  # names hold no "/": unambiguous
        message = {"op": "validate", "key": key, "name": name, "document": document, "base": base}
        try:
            answer = await self._ask(tenant, message, event_type.schema)
        except SandboxFailed as exc:
            why = f"could not be checked against the schema of {name}: {exc}"
            return [FieldError(base, why + "; send less data, or simplify the schema")]
        return [FieldError(path, text) for path, text in answer["errors"]]

    async def _ask(self, tenant: str, message: dict[str, Any], schema: Any = None) -> Any:
        async with self._shares.hold(tenant):
            child = await self._take()
            healthy = False
            try:
                answer = await self._exchange(child, message, schema)
                healthy = True
                return answer
            finally:
                await self._give_back(child, healthy)

    async def _exchange(self, child: _Child, message: dict[str, Any], schema: Any) -> Any:
        """The child's answer to ``message``, sending ``schema`` when the child has not
        compiled it (or has evicted it since)."""
        key = message.get("key")
        try:
            if key is not None and key not in child.known:
                message = {**message, "schema": schema}
            async with asyncio.timeout(self.time_limit_s):
                answer = await child.ask(message)
            if answer.get("unknown"):
                message = {**message, "schema": schema}
                async with asyncio.timeout(self.time_limit_s):
                    answer = await child.ask(message)
        except TimeoutError:
            raise SandboxFailed(f"it took more than {self.time_limit_s:g} s") from None
        except (FrameError, OSError, RuntimeError):  # uvloop: RuntimeError on a closed pipe
            raise SandboxFailed("it stopped: more memory than allowed, or a crash") from None
        if "failed" in answer:
            raise SandboxFailed(answer["failed"])
        if key is not None:
            if len(child.known) >= CACHE_ENTRIES:  # the child has evicted some of them anyway
                child.known.clear()
            child.known.add(key)
        return answer

    async def _take(self) -> _Child:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self._workers):
                self._idle.put_nowait(None)  # a place for a child, started when first taken
        try:
            async with asyncio.timeout(QUEUE_LIMIT_S):
                child = await self._idle.get()
        except TimeoutError:
            raise BackendUnavailable(_BUSY) from None
        if child is not None and child.process.returncode is None:
            return child
        if child is not None:  # it died while idle (the kernel's OOM killer, say)
            self._children.remove(child)
            await child.stop()
        try:
            return await self._start()
        except BaseException:
            self._idle.put_nowait(None)
            raise

    async def _give_back(self, child: _Child, healthy: bool) -> None:
        """A healthy child goes back to the queue; another is killed and its replacement
        started in the background, so no request waits for a start it did not cause."""
        assert self._idle is not None
        if healthy:
            self._idle.put_nowait(child)
            return
        self._children.remove(child)
        await child.stop()
        replacing = asyncio.create_task(self._replace(self._idle))
        self._replacing.add(replacing)
        replacing.add_done_callback(self._replacing.discard)

    async def _replace(self, idle: asyncio.Queue[_Child | None]) -> None:
        try:
            idle.put_nowait(await self._start())
        except Exception:
            idle.put_nowait(None)  # the next request that takes it tries again

    async def _start(self) -> _Child:
        """A new child, once it has said it is ready (its imports take a moment)."""
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hookwire.sandbox", str(self._memory),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
        except OSError as exc:  # out of processes or file descriptors
            raise BackendUnavailable("the schema sandbox could not start") from exc
        child = _Child(process, set())
        try:
            assert process.stdout is not None
            async with asyncio.timeout(START_LIMIT_S):
                await read_frame_async(process.stdout)
        except (TimeoutError, FrameError) as exc:
            await child.stop()
            raise BackendUnavailable("the schema sandbox did not start") from exc
        except BaseException:  # cancelled: the process must not outlive its request
            await child.stop()
            raise
        self._children.append(child)
        return child

    async def close(self) -> None:
        """Stop every child (their stdin closes, then they are killed)."""
        for replacing in list(self._replacing):
            replacing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await replacing
        children, self._children, self._idle = self._children, [], None
        for child in children:
            if child.process.stdin is not None:
                child.process.stdin.close()
        for child in children:
            await child.stop()
