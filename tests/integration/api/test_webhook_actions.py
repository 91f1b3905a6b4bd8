"""The actions of a webhook: rotate-secret, pause, resume (on both stores)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from hookwire.services.container import Services
from hookwire.timeutil import parse_iso, utcnow
from tests.conftest import WEBHOOKS, Api


async def test_rotate_secret_returns_the_new_secret_once_and_keeps_the_old_for_grace(
    api: Api, services: Services
) -> None:
    created = await api.create()
    url = f"{WEBHOOKS}/{created['id']}"
    response = await api.client.post(url + "/rotate-secret", json={"grace_period_s": 3600})
    assert response.status_code == 200, response.text
    body = response.json()
    new_secret = body["secret"]
    assert new_secret != created["secret"] and new_secret.startswith("whsec_")
    assert body["secret_fingerprint"] == "sha256:" + hashlib.sha256(new_secret.encode()).hexdigest()
    assert body["version"] == 2
    assert response.headers["etag"] == '"2"'
    expires = parse_iso(body["previous_secret_expires_at"])
    assert timedelta(minutes=59) < expires - utcnow() <= timedelta(hours=1)

    stored = await services.secrets.get(created["vault_path"])
    assert stored == {
        "current": new_secret,
        "previous": created["secret"],
        "previous_expires_at": body["previous_secret_expires_at"],
    }
    fetched = await api.client.get(url)
    assert new_secret not in fetched.text and "secret" not in fetched.json()


async def test_rotate_without_grace_drops_the_old_secret(api: Api, services: Services) -> None:
    created = await api.create()
    response = await api.client.post(
        f"{WEBHOOKS}/{created['id']}/rotate-secret", json={"grace_period_s": 0}
    )
    assert response.status_code == 200
    assert "previous_secret_expires_at" not in response.json()
    assert await services.secrets.get(created["vault_path"]) == {
        "current": response.json()["secret"]
    }


async def test_rotate_with_a_supplied_secret_checks_it(api: Api) -> None:
    created = await api.create()
    url = f"{WEBHOOKS}/{created['id']}/rotate-secret"
    bad = await api.client.post(url, json={"secret": "whsec_short"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "/secret"
    unknown = await api.client.post(url, json={"grace": 5})
    assert unknown.json()["errors"][0]["path"] == "/grace"
    good_secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    good = await api.client.post(url, json={"secret": good_secret})
    assert good.status_code == 200
    assert good.json()["secret"] == good_secret
    assert (await api.client.get(f"{WEBHOOKS}/{created['id']}")).json()["version"] == 2


async def test_rotating_an_ed25519_key_changes_the_public_key(api: Api) -> None:
    created = await api.create(signature_scheme="standard-webhooks-ed25519")
    response = await api.client.post(f"{WEBHOOKS}/{created['id']}/rotate-secret")
    assert response.status_code == 200
    body = response.json()
    assert body["secret"].startswith("whsk_")
    assert body["public_key"].startswith("whpk_") and body["public_key"] != created["public_key"]


async def test_pause_and_resume(api: Api) -> None:
    created = await api.create()
    url = f"{WEBHOOKS}/{created['id']}"
    paused = await api.client.post(url + "/pause")
    assert paused.status_code == 200
    body = paused.json()
    assert body["paused_at"] is not None and body["is_active"] is False
    assert body["enabled"] is True and body["version"] == 2

    again = await api.client.post(url + "/pause")
    assert again.json()["paused_at"] == body["paused_at"]
    assert again.json()["version"] == 2

    listed = (await api.client.get(WEBHOOKS)).json()["data"][0]
    assert listed["is_active"] is False

    resumed = await api.client.post(url + "/resume")
    assert resumed.status_code == 200
    assert resumed.json()["paused_at"] is None and resumed.json()["is_active"] is True
    assert resumed.json()["consecutive_failures"] == 0
    assert resumed.json()["version"] == 3
    assert (await api.client.post(url + "/resume")).json()["version"] == 3


async def test_actions_on_a_deleted_webhook_are_404(api: Api) -> None:
    created = await api.create()
    url = f"{WEBHOOKS}/{created['id']}"
    assert (await api.client.delete(url)).status_code == 204
    for action in ("pause", "resume", "rotate-secret"):
        assert (await api.client.post(f"{url}/{action}")).status_code == 404
