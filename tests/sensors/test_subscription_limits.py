"""What a client may make the server do through subscriptions: never call inside the city's
network (server-side request forgery: internal addresses are refused unless the city allows them),
and hold only so many subscriptions per key."""

from __future__ import annotations

import pytest
from subscription_receiver import Receiver

from parvis.kernel.outbound import OutboundPolicy, OutboundRefused, guarded_client
from parvis.modules.sensors.notifier import Notifier

BASE = "/ngsi-ld/v1"


def subscription(uri: str) -> dict:
    return {"type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
            "notification": {"endpoint": {"uri": uri}}}


@pytest.fixture
def closed(settings):
    """The default policy: nothing internal allowed."""
    return settings.model_copy(update={"sensors_notify_allowed_networks": []})


@pytest.fixture
def closed_client(closed, db):
    from fastapi.testclient import TestClient

    from parvis.app import create_app

    with TestClient(create_app(closed, database=db), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8080/notify", "http://169.254.169.254/latest/meta-data",
                                 "http://10.0.0.5/hook", "http://[::1]/hook", "http://[::ffff:192.168.1.1]/x",
                                 "http://100.64.1.1/x", "http://0.0.0.0/x"])
def test_an_internal_address_is_refused_when_subscribing(closed_client, w, uri):
    response = closed_client.post(f"{BASE}/subscriptions", json=subscription(uri), headers=w)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert "internal address" in body["detail"]
    assert closed_client.get(f"{BASE}/subscriptions", headers=w).json() == []


def test_changing_the_endpoint_to_an_internal_address_is_refused(closed_client, w):
    created = closed_client.post(f"{BASE}/subscriptions", json=subscription("https://receiver.example.org/n"),
                                 headers=w)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    response = closed_client.patch(location, json={"notification": {"endpoint": {
        "uri": "http://192.168.0.10/admin"}}}, headers=w)
    assert response.status_code == 400
    kept = closed_client.get(location, headers=w).json()
    assert kept["notification"]["endpoint"]["uri"] == "https://receiver.example.org/n"


def test_an_allowed_network_may_be_subscribed(client, w):
    # this module's settings allow 127.0.0.1 (see conftest)
    response = client.post(f"{BASE}/subscriptions", json=subscription("http://127.0.0.1:9/n"), headers=w)
    assert response.status_code == 201, response.text


def test_a_public_name_resolving_inside_is_refused_when_sending():
    policy = OutboundPolicy.from_entries([])

    def resolver(_host: str, _port: int) -> list[str]:
        return ["93.184.216.34", "10.1.2.3"]  # one of its addresses is internal

    with pytest.raises(OutboundRefused, match=r"10\.1\.2\.3"):
        policy.check("https://hooks.example.org/x", resolver)
    policy.check("https://hooks.example.org/x", lambda _h, _p: ["93.184.216.34"])  # all public: sent


def test_the_allow_list_takes_networks_and_host_names():
    policy = OutboundPolicy.from_entries(["10.20.0.0/16", "Receiver.Internal", " "])
    policy.check("http://10.20.3.4/x")
    policy.check("http://receiver.internal/x", lambda _h, _p: ["10.99.0.1"])
    with pytest.raises(OutboundRefused):
        policy.check("http://10.21.0.1/x")
    with pytest.raises(OutboundRefused, match="could not be resolved"):
        policy.check("http://nowhere.invalid/x", lambda _h, _p: (_ for _ in ()).throw(OSError("no such")))


def test_a_name_that_answers_inside_once_checked_cannot_lead_inside():
    """DNS rebinding: the name is public when the notifier checks it and loopback when the client
    connects. The client connects only to addresses it checks as it connects: refused, nothing sent."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    def rebinding(_host: str, _port: int) -> list[str]:
        return next(answers)

    policy = OutboundPolicy.from_entries([])
    with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        url = f"http://rebind.example.org:{port}/notify"
        policy.check(url, rebinding)  # the first answer: public
        with guarded_client(policy, timeout=2, resolver=rebinding) as client, \
                pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
            client.post(url, content=b"{}", headers={"Content-Type": "application/json"})
        assert receiver.received == []


def test_the_guarded_client_reaches_what_the_city_allows_by_address_or_by_name():
    with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        by_address = guarded_client(OutboundPolicy.from_entries(["127.0.0.1/32"]), timeout=2)
        assert by_address.post(receiver.url, content=b"{}",
                               headers={"Content-Type": "application/json"}).status_code < 300
        by_name = guarded_client(OutboundPolicy.from_entries(["receiver.internal"]), timeout=2,
                                 resolver=lambda _h, _p: ["127.0.0.1"])
        answer = by_name.post(f"http://receiver.internal:{port}/notify", content=b"{}",
                              headers={"Content-Type": "application/json"})
        assert answer.status_code < 300
        assert len(receiver.wait(2)) == 2
        assert receiver.received[1]["headers"]["Host"] == f"receiver.internal:{port}"  # the name, kept
        closed = guarded_client(OutboundPolicy.from_entries([]), timeout=2)
        with pytest.raises(OutboundRefused):
            closed.post(receiver.url, content=b"{}")
        assert len(receiver.received) == 2


def test_a_notification_to_a_refused_address_is_not_sent_and_says_why(db, closed, w, client):
    """A subscription made while loopback was allowed, sent after the city closed it: the receiver
    gets nothing and the subscription's last failure says the address was refused."""
    with Receiver() as receiver:
        created = client.post(f"{BASE}/subscriptions", json=subscription(receiver.url), headers=w)
        assert created.status_code == 201
        location = created.headers["Location"]
        entity = {"id": "urn:ngsi-ld:AirQualityObserved:ssrf", "type": "AirQualityObserved",
                  "NO2": {"type": "Property", "value": 12.0, "unitCode": "GQ"}}
        assert client.post(f"{BASE}/entities", json=entity, headers=w).status_code == 201
        notifier = Notifier(db, closed.model_copy(update={"sensors_notify_retry_seconds": 0.0}))
        notifier.deliver_due()
        assert receiver.received == []
        status = client.get(location, headers=w).json()
        assert "Refused" in status["notification"]["lastFailureReason"]
        assert "127.0.0.1" in status["notification"]["lastFailureReason"]


def test_a_key_may_hold_only_so_many_subscriptions(settings, db, w):
    from fastapi.testclient import TestClient

    from parvis.app import create_app

    capped = settings.model_copy(update={"ngsi_max_subscriptions_per_key": 2})
    with TestClient(create_app(capped, database=db), raise_server_exceptions=False) as capped_client:
        made = [capped_client.post(f"{BASE}/subscriptions", json=subscription("https://r.example.org/n"),
                                   headers=w) for _ in range(3)]
        assert [r.status_code for r in made] == [201, 201, 403]
        assert "PARVIS_NGSI_MAX_SUBSCRIPTIONS_PER_KEY" in made[2].json()["detail"]
        assert capped_client.delete(made[0].headers["Location"], headers=w).status_code == 204
        again = capped_client.post(f"{BASE}/subscriptions", json=subscription("https://r.example.org/n"),
                                   headers=w)
        assert again.status_code == 201  # room again once one is deleted
