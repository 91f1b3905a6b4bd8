"""docs/signing.md's recipes, run as written (Python in-process, Node.js and Go as real
programs) against requests hookwire signs: a good one, one signed during a rotation, and a
tampered body, a wrong secret and a stale timestamp, which must all be refused."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from hookwire.signing.base import Message
from hookwire.signing.keys import generate_secret
from hookwire.signing.registry import get_scheme
from tests import debian

DOC = Path(__file__).resolve().parents[2] / "docs" / "signing.md"
BODY = b'{"id":"evt_1","type":"webhook_test","data":{"test":true}}'


def recipe(language: str) -> str:
    found: list[str] = re.findall(rf"```{language}\n(.+?)\n```", DOC.read_text(), flags=re.S)
    assert len(found) == 1, f"one {language} recipe"
    return found[0]


def cases() -> list[tuple[str, str, dict[str, str], bytes, bool]]:
    """(what, secret to verify with, headers, body, expected verdict)."""
    secret, old, other = (generate_secret("standard-webhooks") for _ in range(3))
    scheme, now = get_scheme("standard-webhooks"), int(time.time())
    signed = scheme.sign(Message("evt_1", now, BODY), [secret])
    rotating = scheme.sign(Message("evt_1", now, BODY), [secret, old])
    stale = scheme.sign(Message("evt_1", now - 301, BODY), [secret])
    return [
        ("good", secret, signed, BODY, True),
        ("rotation, old secret", old, rotating, BODY, True),
        ("rotation, new secret", secret, rotating, BODY, True),
        ("tampered body", secret, signed, BODY.replace(b"true", b"false"), False),
        ("wrong secret", other, signed, BODY, False),
        ("stale timestamp", secret, stale, BODY, False),
    ]


def check(verify: Callable[[str, dict[str, str], bytes], bool]) -> None:
    for what, secret, headers, body, expected in cases():
        assert verify(secret, headers, body) is expected, what


def test_the_python_recipe() -> None:
    scope: dict[str, Any] = {}
    exec(recipe("python"), scope)
    check(scope["verify"])


def run_program(argv: list[str], cwd: Path) -> Callable[[str, dict[str, str], bytes], bool]:
    """A verify() that asks a program: one JSON case on stdin, true/false on stdout."""

    def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
        case = {"secret": secret, "headers": headers, "body": base64.b64encode(body).decode()}
        done = subprocess.run(argv, input=orjson.dumps(case), cwd=cwd, capture_output=True,
                              timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.strip() == b"true"

    return verify


NODE_DRIVER = """
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const headers = Object.fromEntries(
  Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v]));
console.log(verify(input.secret, headers, Buffer.from(input.body, "base64")) ? "true" : "false");
"""


def test_the_node_recipe(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("the Node.js recipe's test needs node (the machine's Node.js)")
    (tmp_path / "verify.js").write_text(recipe("javascript") + NODE_DRIVER)
    check(run_program([node, "verify.js"], tmp_path))


GO_DRIVER = """
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"recipe/webhooks"
)

func main() {
	var input struct {
		Secret  string            `json:"secret"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&input); err != nil {
		panic(err)
	}
	header := http.Header{}
	for k, v := range input.Headers {
		header.Set(k, v)
	}
	body, _ := base64.StdEncoding.DecodeString(input.Body)
	fmt.Println(webhooks.Verify(input.Secret, header, body))
}
"""


def test_the_go_recipe(tmp_path: Path) -> None:
    binary = debian.tool("go", "golang-go")
    (tmp_path / "go.mod").write_text("module recipe\n\ngo 1.19\n")
    (tmp_path / "webhooks").mkdir()
    (tmp_path / "webhooks" / "verify.go").write_text(recipe("go") + "\n")
    (tmp_path / "main.go").write_text(GO_DRIVER)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOCACHE": str(tmp_path / ".cache"),
           "GOPATH": str(tmp_path / ".gopath")}  # fmt: skip
    built = subprocess.run([binary, "build", "-o", "verify", "."], cwd=tmp_path, env=env,
                           capture_output=True, timeout=300, check=False)  # fmt: skip
    assert built.returncode == 0, built.stderr.decode()
    check(run_program([str(tmp_path / "verify")], tmp_path))
