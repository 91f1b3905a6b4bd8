"""domain.validation helpers that are not JSON Schema: finding U+0000 anywhere in a body."""

from __future__ import annotations

from typing import Any

import pytest

from hookwire.domain.validation import nul_path


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"a": "x"}, None),
        ("a\x00", ""),
        ({"a": ["ok", {"b/c": "\x00"}]}, "/a/1/b~1c"),
        ({"ok": 1, "k\x00": 1}, "/k\x00"),
        ([1, 2.5, None, True, "\\u0000"], None),  # a backslash and "u0000", not U+0000
        ({"a": "\x00", "b": "\x00"}, "/a"),  # the first one
    ],
)
def test_nul_path(value: Any, path: str | None) -> None:
    assert nul_path(value) == path
