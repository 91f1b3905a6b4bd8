"""Generated interleavings of concurrent state changes against real hookwire processes, and
the rules of docs/concepts.md ("A webhook's state decides") checked on what happened: the harness of
tests/acceptance/test_interleavings.py. ``scene`` sets up and runs the seeded generator,
``ending`` stops, restores and drains, ``rules`` checks and reports."""

from tests.interleavings.ending import Outcome, finish
from tests.interleavings.rules import Report, check, counts, save
from tests.interleavings.scene import (
    SECONDS_ENV,
    SEED_ENV,
    Scene,
    Sink,
    generate,
    prepare,
    seconds_from_env,
    seed_from_env,
)

__all__ = [
    "SECONDS_ENV",
    "SEED_ENV",
    "Outcome",
    "Report",
    "Scene",
    "Sink",
    "check",
    "counts",
    "finish",
    "generate",
    "prepare",
    "save",
    "seconds_from_env",
    "seed_from_env",
]
