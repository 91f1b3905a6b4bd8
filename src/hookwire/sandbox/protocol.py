"""The messages between hookwire and its schema sandbox: one orjson document per frame, each
frame preceded by its length (4 bytes, big-endian), over the child's stdin and stdout.

Requests (``op``):

- ``check``: ``{schema, example?}`` → ``{errors: [[pointer, message], …]}``, pointers into
  the request (``/schema/…``, ``/example/…``): whether a tenant may store this schema.
- ``validate``: ``{key, schema?, document, base}`` → ``{errors}``, or ``{unknown: true}`` when
  the child has no schema compiled under ``key`` and none was sent (then it is sent).

Any request may be answered ``{failed: "<why>"}`` when the child's own code raised.
"""

from __future__ import annotations

import asyncio
import struct
from typing import IO, Any, Final

import orjson

HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = 64 * 1024 * 1024  # far above any request (two bodies of the payload limit)
CACHE_ENTRIES: Final = 4096  # compiled schemas a child keeps, at most (and keys its parent notes)


class FrameError(ConnectionError):
    """The other side closed, or sent something that is not a frame."""


def encode(message: Any) -> bytes:
    payload = orjson.dumps(message)
    return HEADER.pack(len(payload)) + payload


def _decode(length: bytes, read: Any) -> Any:
    if len(length) != HEADER.size:
        raise FrameError("the other side closed")
    (size,) = HEADER.unpack(length)
    if size > MAX_FRAME:
        raise FrameError(f"a frame of {size} bytes")
    payload = read(size)
    if len(payload) != size:
        raise FrameError("the other side closed mid-frame")
    return orjson.loads(payload)


def read_frame(stream: IO[bytes]) -> Any:
    """The next message from a blocking stream (the child's stdin)."""
    return _decode(stream.read(HEADER.size), stream.read)


def write_frame(stream: IO[bytes], message: Any) -> None:
    stream.write(encode(message))
    stream.flush()


async def read_frame_async(stream: asyncio.StreamReader) -> Any:
    """The next message from the child's stdout."""
    try:
        length = await stream.readexactly(HEADER.size)
        (size,) = HEADER.unpack(length)
        if size > MAX_FRAME:
            raise FrameError(f"a frame of {size} bytes")
        return orjson.loads(await stream.readexactly(size))
    except asyncio.IncompleteReadError as exc:
        raise FrameError("the child closed its output") from exc
