"""SSRF, tried as an attacker would: every spelling of a private address that a URL parser or
the operating system reads as that address (tests/spellings.py generates the family) is
refused at create and at PATCH, and, when a row holds one anyway (written before a check
existed, or while private targets were allowed), no request reaches a real receiver on
loopback, whether sent by the worker or by ``POST /{id}/test``.

The first spelling of the review, 127.0.0.1 in Unicode segmented digits, was accepted (201) and
its test send answered with the loopback service's body.
"""

from __future__ import annotations

import dataclasses
import random
import socket

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from hookwire.delivery.sender import Sender
from hookwire.domain.principal import Principal
from hookwire.services.container import Services
from tests import receivers, spellings
from tests.conftest import WEBHOOKS, Api
from tests.drain import drain

EVENTS = "/api/v1/events"
TEST_EVENT = {"type": "webhook_test", "data": {"test": True}}


SENT = 40  # spellings sent per store: each costs a few writes; the create test takes them all


def urls(port: int, *, names: bool = True) -> list[str]:
    hosts = spellings.private_hosts() if names else spellings.private_addresses()
    return [f"http://{host}:{port}/hooks" for host in hosts]


def sent_urls(port: int) -> list[str]:
    """A seeded sample of the family, every name of loopback among it."""
    names = [f"http://{host}:{port}/hooks" for host in spellings.localhost_spellings()]
    return names + random.Random(14).sample(urls(port, names=False), SENT)


async def test_no_spelling_of_a_private_address_is_accepted(api: Api) -> None:
    """Names are left to the send test: one that does not resolve now is accepted by design
    (``localhost.`` here, where /etc/hosts does not know it and DNS is unreachable)."""
    existing = await api.create()
    version, accepted = existing["version"], []
    for url in urls(8080, names=False):
        created = await api.client.post(WEBHOOKS, json={"url": url})
        patched = await api.client.patch(
            f"{WEBHOOKS}/{existing['id']}", json={"url": url, "version": version}
        )
        version = patched.json().get("version", version)
        for answer in (created, patched):
            if answer.status_code != 422:
                accepted.append((url, answer.status_code))
            else:
                assert [e["path"] for e in answer.json()["errors"]] == ["/url"]
    assert accepted == [], "\n".join(map(str, accepted))


async def hostile_rows(api: Api, services: Services, port: int) -> list[str]:
    """A webhook per sampled spelling, its URL written straight into the store (as a row from before
    the checks would be); their ids."""
    principal = Principal("acme")
    ids = []
    for url in sent_urls(port):
        created = await api.create(retry_policy={"maxAttempts": 1})
        stored = await services.store.get_webhook(principal, created["id"])
        assert stored is not None
        changed = dataclasses.replace(stored, url=url)
        assert await services.store.update_webhook(changed, expected_version=stored.version)
        ids.append(created["id"])
    return ids


async def test_no_spelling_reaches_a_loopback_receiver_when_sent(
    api: Api, services: Services
) -> None:
    async with receivers.receiver() as target:
        port = int(target.url.rsplit(":", 1)[1].split("/")[0])
        ids = await hostile_rows(api, services, port)
        tests = [(await api.client.post(f"{WEBHOOKS}/{i}/test")).json() for i in ids]
        published = await api.client.post(EVENTS, json=TEST_EVENT)
        assert published.json()["deliveries"] == len(ids)
        await drain(services, allow_private=False)
        assert target.received == [], "a private spelling reached the loopback receiver"
        assert all(t["success"] is False and t["status_code"] is None for t in tests), tests
        outcomes = await attempt_outcomes(api, published.json()["id"])
        assert set(outcomes.values()) <= {"blocked", "connection_error"}, outcomes
        unresolved = {url for url, outcome in outcomes.items() if outcome != "blocked"}
        assert unresolved <= {u for u in sent_urls(port) if "ocalhost." in u}, unresolved

        # The control: the receiver is reachable, so silence above means refusal.
        allowed = Sender(allow_private=True)
        await allowed.open()
        try:
            answer = await allowed.post(target.url, {}, b"{}", 5)
        finally:
            await allowed.close()
        assert answer.status_code == 200 and len(target.received) == 1


async def attempt_outcomes(api: Api, event_id: str) -> dict[str, str]:
    """Each webhook's URL and the outcome of its one attempt."""
    event = (await api.client.get(f"{EVENTS}/{event_id}")).json()
    found = {}
    for delivery_id in event["delivery_ids"]:
        delivery = (await api.client.get(f"/api/v1/deliveries/{delivery_id}")).json()
        hook = (await api.client.get(f"{WEBHOOKS}/{delivery['webhook_id']}")).json()
        [attempt] = delivery["attempts"]
        found[hook["url"]] = attempt["outcome"]
    return found


class MovingName(AbstractResolver):
    """DNS for one name whose address changes between two lookups. A test double: this
    machine's resolver cannot be given records (no DNS server is reachable), and a changing
    answer is the point of the test. The sender's guard still checks every answer."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.lookups = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.addresses[min(self.lookups, len(self.addresses) - 1)]
        self.lookups += 1
        return [
            {"hostname": host, "host": address, "port": port, "family": socket.AF_INET,
             "proto": 0, "flags": socket.AI_NUMERICHOST}
        ]  # fmt: skip

    async def close(self) -> None:
        pass


def closing(status: int = 200) -> receivers.Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.Response(status=status, text="ok")
        response.force_close()
        return response

    return answer


async def test_the_sender_follows_a_name_to_its_new_address() -> None:
    """No DNS cache: once the old connection is gone, the next request goes where DNS now
    points (aiohttp's ``ttl_dns_cache=None`` cached the first answer for the process's life)."""
    async with receivers.receiver(closing(), host="127.0.0.1") as old:
        port = int(old.url.rsplit(":", 1)[1].split("/")[0])
        async with receivers.receiver(closing(), host="127.0.0.2", port=port) as new:
            dns = MovingName(["127.0.0.1", "127.0.0.2"])
            sender = Sender(allow_private=True, lookup=dns)
            await sender.open()
            try:
                for _ in range(2):
                    answer = await sender.post(f"http://moving.example:{port}/", {}, b"{}", 5)
                    assert answer.status_code == 200, answer
            finally:
                await sender.close()
    assert (len(old.received), len(new.received), dns.lookups) == (1, 1, 2)
