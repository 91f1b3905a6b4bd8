"""Event-type patterns: whole-string, case-sensitive, ``*`` is the only wildcard."""

from __future__ import annotations

import pytest

from hookwire.domain.patterns import PATTERN_RE, matches, matches_any


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("rfp.created", "rfp.created", True),
        ("rfp.created", "rfp.updated", False),
        ("rfp.created", "rfp.created.v2", False),
        ("rfp.created", "x.rfp.created", False),
        ("rfp.*", "rfp.created", True),
        ("rfp.*", "rfp.created.v2", True),
        ("rfp.*", "rfp.", True),
        ("rfp.*", "rfp", False),
        ("rfp.*", "rfpXcreated", False),
        ("rfp.*", "xrfp.created", False),
        ("integration_*", "integration_created", True),
        ("integration_*", "integration-created", False),
        ("integration_*", "my_integration_created", False),
        ("*", "anything.at:all", True),
        ("*", "", True),
        ("*.created", "rfp.created", True),
        ("*.created", "a.b.created", True),
        ("*.created", "rfpcreated", False),
        ("*.created", "rfp.created.v2", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "acb", False),
        ("a*b*c", "abcd", False),
        ("a*b*c", "zabc", False),
        ("a.c", "abc", False),
        ("a+b", "aab", False),
        ("a+b", "a+b", True),
        ("(x|y)*", "x", False),
        ("[ab]*", "[ab]z", True),
        ("RFP.*", "rfp.created", False),
        ("rfp.*", "RFP.created", False),
        ("rfp.created", "RFP.CREATED", False),
    ],
)
def test_matches(pattern: str, event_type: str, expected: bool) -> None:
    assert matches(pattern, event_type) is expected


def test_wildcard_match_is_whole_string_even_with_a_trailing_newline() -> None:
    assert not matches("*.created", "rfp.created\n")


def test_exact_pattern_refuses_a_trailing_newline() -> None:
    assert not matches("rfp.created", "rfp.created\n")


def test_empty_pattern_list_matches_every_type() -> None:
    assert matches_any([], "rfp.created")
    assert matches_any((), "")
    assert matches_any(iter([]), "anything")


def test_matches_any_needs_one_match_when_patterns_are_given() -> None:
    patterns = ["rfp.created", "integration_*"]
    assert matches_any(patterns, "rfp.created")
    assert matches_any(patterns, "integration_deleted")
    assert not matches_any(patterns, "rfp.updated")
    assert matches_any(iter(patterns), "integration_x")
    assert not matches_any(iter(patterns), "other")


@pytest.mark.parametrize(
    "pattern",
    ["rfp.created", "rfp.*", "integration_*", "*", "*.created", "a:b-c_d.e", "x" * 200, "A9"],
)
def test_pattern_re_accepts(pattern: str) -> None:
    assert PATTERN_RE.match(pattern)


@pytest.mark.parametrize(
    "pattern",
    ["", "x" * 201, "rfp created", "rfp/created", "rfp.créé", "a\tb", "a$", "a+b", "(x)", "a?"],
)
def test_pattern_re_refuses(pattern: str) -> None:
    assert not PATTERN_RE.match(pattern)
