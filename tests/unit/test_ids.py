"""Prefixed ULIDs: shape, order, uniqueness under threads, and the embedded timestamp."""

from __future__ import annotations

import random
import threading
import time
from itertools import pairwise

import pytest

from hookwire.ids import ID_PATTERN, PREFIXES, is_id, new_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + CROCKFORD.index(char)
    return value


@pytest.mark.parametrize("prefix", sorted(PREFIXES))
def test_new_id_has_the_prefix_and_the_ulid_shape(prefix: str) -> None:
    value = new_id(prefix)
    assert value.startswith(prefix + "_")
    assert len(value) == len(prefix) + 1 + 26
    assert ID_PATTERN.match(value)
    assert is_id(value, prefix)


def test_the_documented_prefixes_exist() -> None:
    assert {"wh", "evt", "dlv", "att", "inm"} <= PREFIXES


@pytest.mark.parametrize("prefix", ["usr", "", "WH", "wh_", "webhook"])
def test_unknown_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        new_id(prefix)


def test_is_id_refuses_other_prefixes_and_malformed_bodies() -> None:
    value = new_id("wh")
    body = value[3:]
    assert not is_id(value, "evt")
    assert not is_id("evt_" + body, "wh")
    assert not is_id(value[:-1], "wh")
    assert not is_id(value + "0", "wh")
    assert not is_id("wh_" + body.lower(), "wh")
    for letter in "ILOU":  # not in Crockford's alphabet
        assert not is_id("wh_" + letter + body[1:], "wh")
    assert not is_id("wh-" + body, "wh")
    assert not is_id("", "wh")
    assert not is_id("wh_", "wh")


def test_is_id_refuses_a_trailing_newline() -> None:
    assert not is_id(new_id("wh") + "\n", "wh")


def test_ids_made_in_a_tight_loop_are_strictly_increasing_and_unique() -> None:
    ids = [new_id("wh") for _ in range(10_000)]
    assert all(a < b for a, b in pairwise(ids))
    assert len(set(ids)) == len(ids)


def test_later_ids_sort_after_earlier_ones_across_prefixes() -> None:
    first = new_id("evt")
    time.sleep(0.002)
    second = new_id("dlv")
    assert first[4:] < second[4:]


def test_ids_made_by_concurrent_threads_are_unique() -> None:
    threads, per_thread = 8, 2_000
    barrier = threading.Barrier(threads)
    results: list[list[str]] = [[] for _ in range(threads)]

    def work(out: list[str]) -> None:
        barrier.wait()
        out.extend(new_id("dlv") for _ in range(per_thread))

    workers = [threading.Thread(target=work, args=(out,)) for out in results]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    every = [value for out in results for value in out]
    assert len(every) == threads * per_thread
    assert len(set(every)) == len(every)
    for out in results:
        assert all(a < b for a, b in pairwise(out))


def test_timestamp_part_is_now_in_milliseconds() -> None:
    before = time.time()
    value = new_id("evt")
    millis = decode(value.split("_", 1)[1][:10])
    assert abs(millis / 1000 - before) < 5


def test_encoding_is_crockford_base32_most_significant_first() -> None:
    """The table-driven encoder agrees with the definition, five bits per character."""
    from hookwire import ids

    def by_definition(value: int) -> str:
        return "".join(ids._ALPHABET[(value >> (5 * (25 - i))) & 31] for i in range(26))

    rng = random.Random(7)
    samples = [0, 1, 2**128 - 1, 2**80, *(rng.getrandbits(128) for _ in range(2000))]
    for value in samples:
        assert ids._encode(value) == by_definition(value)
