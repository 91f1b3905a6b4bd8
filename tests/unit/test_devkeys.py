"""Development keys (docs/production.md "Keys"): generated once under HOOKWIRE_HOME, shared, never
logged."""

from __future__ import annotations

import base64
import logging
import os
import stat
import threading
from pathlib import Path

import orjson
import pytest

from hookwire.devkeys import KEYS_FILE, with_dev_keys
from hookwire.errors import ConfigurationError
from hookwire.settings import Settings
from hookwire.tokens import TokenVerifier, mint

MASTER = base64.b64encode(b"m" * 32).decode()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "state" / "hookwire-home"  # does not exist yet


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_are_generated_into_a_private_file(home: Path) -> None:
    settings = with_dev_keys(Settings(home=home))
    path = home / KEYS_FILE
    assert mode(path) == 0o600
    assert mode(home) == 0o700
    assert settings.jwt_secret and settings.master_key
    assert len(base64.b64decode(settings.master_key, validate=True)) == 32
    stored = orjson.loads(path.read_bytes())
    assert stored["jwt_secret"] == settings.jwt_secret
    assert stored["master_key"] == settings.master_key
    assert os.listdir(home) == [KEYS_FILE]  # no temporary file left behind


def test_generated_keys_are_usable(home: Path) -> None:
    settings = with_dev_keys(Settings(home=home))
    settings.check()
    assert TokenVerifier(settings).verify(mint(settings, "acme")).tenant_id == "acme"


def test_a_second_call_reuses_the_file(home: Path) -> None:
    first = with_dev_keys(Settings(home=home))
    second = with_dev_keys(Settings(home=home, port=9000))
    assert (second.jwt_secret, second.master_key) == (first.jwt_secret, first.master_key)


def test_different_homes_get_different_keys(tmp_path: Path) -> None:
    one = with_dev_keys(Settings(home=tmp_path / "one"))
    two = with_dev_keys(Settings(home=tmp_path / "two"))
    assert one.jwt_secret != two.jwt_secret
    assert one.master_key != two.master_key


def test_configured_keys_are_kept_and_nothing_is_written(home: Path) -> None:
    settings = Settings(home=home, jwt_secret="configured-secret-" + "x" * 20, master_key=MASTER)
    assert with_dev_keys(settings) == settings
    assert not home.exists()


def test_only_the_missing_key_is_filled_in(home: Path) -> None:
    configured = "configured-secret-" + "x" * 20
    settings = with_dev_keys(Settings(home=home, jwt_secret=configured))
    assert settings.jwt_secret == configured
    stored = orjson.loads((home / KEYS_FILE).read_bytes())
    assert settings.master_key == stored["master_key"]
    assert stored["jwt_secret"] != configured
    settings = with_dev_keys(Settings(home=home, master_key=MASTER))
    assert settings.master_key == MASTER
    assert settings.jwt_secret == stored["jwt_secret"]


def test_a_configured_public_key_is_not_joined_by_a_dev_secret(home: Path) -> None:
    settings = with_dev_keys(Settings(home=home, jwt_public_key="-----BEGIN PUBLIC KEY-----"))
    assert settings.jwt_secret is None
    settings.check()  # a secret beside the public key would be refused here


def test_vault_backend_gets_no_master_key(home: Path) -> None:
    vault = Settings(
        home=home, secret_backend="vault", vault_addr="http://vault:8200", vault_token="t"
    )
    settings = with_dev_keys(vault)
    assert settings.master_key is None
    assert settings.jwt_secret
    configured = vault.replace(jwt_secret="configured-secret-" + "x" * 20)
    assert with_dev_keys(configured) == configured


def test_concurrent_first_calls_agree_on_the_keys(home: Path) -> None:
    threads = 8
    barrier = threading.Barrier(threads)
    results: list[Settings] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        try:
            result = with_dev_keys(Settings(home=home))
        except BaseException as exc:  # reported below
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(result)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert len(results) == threads
    assert len({(r.jwt_secret, r.master_key) for r in results}) == 1
    assert os.listdir(home) == [KEYS_FILE]


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b""])
def test_corrupt_keys_file_is_a_configuration_error(home: Path, content: bytes) -> None:
    home.mkdir(parents=True)
    (home / KEYS_FILE).write_bytes(content)
    with pytest.raises(ConfigurationError) as info:
        with_dev_keys(Settings(home=home))
    assert KEYS_FILE in info.value.detail


def test_keys_file_missing_a_key_is_a_configuration_error(home: Path) -> None:
    home.mkdir(parents=True)
    (home / KEYS_FILE).write_bytes(b"{}")
    with pytest.raises(ConfigurationError):
        with_dev_keys(Settings(home=home))


def test_keys_file_with_non_string_values_is_a_configuration_error(home: Path) -> None:
    home.mkdir(parents=True)
    (home / KEYS_FILE).write_bytes(b'{"jwt_secret": null, "master_key": 5}')
    with pytest.raises(ConfigurationError):
        with_dev_keys(Settings(home=home))


def test_warning_names_the_file_but_not_the_keys(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hookwire.devkeys"):
        settings = with_dev_keys(Settings(home=home))
    records = [r for r in caplog.records if r.name == "hookwire.devkeys"]
    assert records and all(r.levelno == logging.WARNING for r in records)
    text = "\n".join(r.getMessage() for r in records)
    assert str(home / KEYS_FILE) in text
    assert "HOOKWIRE_JWT_SECRET" in text and "HOOKWIRE_MASTER_KEY" in text
    assert settings.jwt_secret and settings.jwt_secret not in text
    assert settings.master_key and settings.master_key not in text


def test_no_warning_when_every_key_is_configured(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(home=home, jwt_secret="configured-secret-" + "x" * 20, master_key=MASTER)
    with caplog.at_level(logging.WARNING, logger="hookwire.devkeys"):
        with_dev_keys(settings)
    assert [r for r in caplog.records if r.name == "hookwire.devkeys"] == []
