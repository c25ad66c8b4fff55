"""Where contexts come from: the ETSI core context under all its URLs, the Smart Data Models
subjects' own contexts, both shipped; a city's own contexts fetched only from its allow-list."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conftest import BASE, CORE, SDM, link

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
SDM_IRI = "https://smartdatamodels.org/"
ETSI = "https://uri.etsi.org/ngsi-ld/v1/"
OLDER_CORE_URLS = [f"{ETSI}ngsi-ld-core-context.jsonld",
                   *(f"{ETSI}ngsi-ld-core-context-v1.{minor}.jsonld" for minor in range(3, 8))]


def subject_url(subject: str) -> str:
    return f"https://raw.githubusercontent.com/smart-data-models/dataModel.{subject}/master/context.jsonld"


def post_ld(client, key: str, entity: dict[str, Any]):
    return client.post(f"{BASE}/entities", content=json.dumps(entity),
                       headers={"X-Api-Key": key, "Content-Type": "application/ld+json"})


def stored(client, key: str, entity_id: str) -> dict[str, Any]:
    """The entity as the core context alone shows it: the full IRIs the hub keeps."""
    response = client.get(f"{BASE}/entities/{entity_id}", headers={"X-Api-Key": key})
    assert response.status_code == 200, response.text
    return response.json()


# ------------------------------------------------------------------------------ core context

@pytest.mark.parametrize("url", OLDER_CORE_URLS)
def test_older_core_context_urls_are_the_shipped_core_context(client, keys, url):
    thing = {"id": "urn:ngsi-ld:Thing:1", "type": "Thing", "@context": url,
             "speed": {"type": "Property", "value": 3, "observedAt": "2026-11-29T08:00:00Z"},
             "near": {"type": "Relationship", "object": "urn:ngsi-ld:Thing:2"}}
    assert post_ld(client, keys["write"], thing).status_code == 201
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:Thing:1", headers={"X-Api-Key": keys["read"],
                                                                       "Link": link(url)})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["type"] == "Thing" and body["speed"]["value"] == 3
    assert body["speed"]["observedAt"] == "2026-11-29T08:00:00Z" and body["near"]["object"] == "urn:ngsi-ld:Thing:2"
    listing = client.get(f"{BASE}/entities?type=Thing", headers={"X-Api-Key": keys["read"], "Link": link(url)})
    assert [e["id"] for e in listing.json()] == ["urn:ngsi-ld:Thing:1"]
    # The same terms as the current core context: a client on v1.8 reads what one on v1.3 wrote.
    current = client.get(f"{BASE}/entities?type=Thing", headers={"X-Api-Key": keys["read"], "Link": link(CORE)})
    assert current.json()[0]["speed"]["value"] == 3 and current.json()[0]["near"]["object"] == "urn:ngsi-ld:Thing:2"


# ------------------------------------------------------------------------------ Smart Data Models

def test_a_smart_data_models_example_posts_with_its_subjects_context(client, keys):
    """TrafficFlowObserved as the model's normalized example writes it: its subject's context."""
    flow = {"id": "urn:ngsi-ld:TrafficFlowObserved:valladolid-1", "type": "TrafficFlowObserved",
            "address": {"type": "Property", "value": {"addressLocality": "Valladolid", "addressCountry": "ES"}},
            "intensity": {"type": "Property", "value": 197},
            "averageVehicleSpeed": {"type": "Property", "value": 52.6},
            "occupancy": {"type": "Property", "value": 0.76},
            "laneDirection": {"type": "Property", "value": "forward"},
            "reversedLane": {"type": "Property", "value": False},
            "location": {"type": "GeoProperty", "value": {"type": "LineString",
                                                          "coordinates": [[-4.737, 41.653], [-4.734, 41.660]]}},
            "@context": [subject_url("Transportation")]}
    response = post_ld(client, keys["write"], flow)
    assert response.status_code == 201, response.text
    full = stored(client, keys["read"], flow["id"])
    transportation = SDM_IRI + "dataModel.Transportation/"
    assert full["type"] == transportation + "TrafficFlowObserved"
    assert full[transportation + "intensity"]["value"] == 197
    assert full[transportation + "occupancy"]["value"] == 0.76
    assert full[SDM_IRI + "address"]["value"]["addressLocality"] == "Valladolid"
    # Parvis' own (merged) context names the same IRIs: the hub's traffic views see this entity.
    merged = client.get(f"{BASE}/entities?type=TrafficFlowObserved",
                        headers={"X-Api-Key": keys["read"], "Link": link(SDM)}).json()
    assert [e["id"] for e in merged] == [flow["id"]]
    assert merged[0]["intensity"]["value"] == 197 and merged[0]["address"]["value"]["addressCountry"] == "ES"
    again = client.get(f"{BASE}/entities/{flow['id']}", headers={"X-Api-Key": keys["read"],
                                                                 "Link": link(subject_url("Transportation"))})
    assert again.json()["reversedLane"]["value"] is False
    assert subject_url("Transportation") in again.headers["link"]


def test_each_subject_context_reads_its_types_as_parvis_does(client, keys):
    spot = {"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot",
            "status": {"type": "Property", "value": "free"},
            "@context": [subject_url("Parking")]}
    air = {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved",
           "no2": {"type": "Property", "value": 22.0}, "pm25": {"type": "Property", "value": 9.0},
           "@context": ["https://smart-data-models.github.io/dataModel.Environment/context.jsonld"]}
    bin_ = {"id": "urn:ngsi-ld:WasteContainer:1", "type": "WasteContainer",
            "fillingLevel": {"type": "Property", "value": 0.4},
            "@context": [subject_url("WasteManagement")]}
    for entity in (spot, air, bin_):
        assert post_ld(client, keys["write"], entity).status_code == 201
    merged = {"X-Api-Key": keys["read"], "Link": link(SDM)}
    got = client.get(f"{BASE}/entities?type=ParkingSpot,AirQualityObserved,WasteContainer", headers=merged)
    by_id = {e["id"]: e for e in got.json()}
    assert by_id[spot["id"]]["status"]["value"] == "free"
    assert by_id[air["id"]]["no2"]["value"] == 22.0 and by_id[air["id"]]["pm25"]["value"] == 9.0
    assert by_id[bin_["id"]]["fillingLevel"]["value"] == 0.4
    full = stored(client, keys["read"], spot["id"])
    assert full["type"] == SDM_IRI + "dataModel.Parking/ParkingSpot"
    # with the core context alone, its ngsi-ld: prefix shortens the IRI (JSON-LD compaction)
    assert full["ngsi-ld:status"]["value"] == "free"


def test_a_subject_context_gives_shared_names_its_own_iris(client, keys):
    """``occupancy`` is one attribute in the Parking subject and another in Transportation."""
    spot = {"id": "urn:ngsi-ld:OffStreetParking:1", "type": "OffStreetParking",
            "occupancy": {"type": "Property", "value": 0.5},
            "NO2": {"type": "Property", "value": 1},  # not a term of the Parking subject
            "@context": [subject_url("Parking")]}
    assert post_ld(client, keys["write"], spot).status_code == 201
    full = stored(client, keys["read"], spot["id"])
    assert full[SDM_IRI + "dataModel.Parking/occupancy"]["value"] == 0.5
    assert full["NO2"]["value"] == 1  # the default vocabulary, read back as the bare term


def test_the_obsolete_umbrella_context_is_not_taken_for_the_shipped_one(client, r):
    """smart-data-models/data-models' own context.jsonld maps types to other IRIs
    (https://uri.fiware.org/ns/data-models#...): it is not answered from the shipped files."""
    url = "https://raw.githubusercontent.com/smart-data-models/data-models/master/context.jsonld"
    response = client.get(f"{BASE}/entities?type=TrafficFlowObserved", headers={**r, "Link": link(url)})
    assert response.status_code == 503
    assert response.json()["type"] == ERR + "LdContextNotAvailable"


# ------------------------------------------------------------------------------ allow-listed contexts

class _ContextServer:
    """A small web server on loopback serving JSON-LD contexts, recording every path asked."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.asked: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.asked.append(self.path)
                document = documents.get(self.path)
                if document is None:
                    self.send_error(404)
                    return
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/ld+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.city_path = self.city = ""  # the allowed context's path and URL

    def asked_for(self, path: str) -> int:
        return self.asked.count(path)


USER_CONTEXT = {"@context": {"traffic": "https://city.example/traffic#",
                             "Flow": "traffic:Flow", "speedBand": "traffic:speedBand",
                             "lanes": {"@id": "https://city.example/traffic#laneCount"}}}


@pytest.fixture
def contexts() -> Iterator[_ContextServer]:
    # a path of its own each time: the hub remembers a fetched context for the process's life
    path = f"/city-{uuid.uuid4().hex}.jsonld"
    server = _ContextServer({path: USER_CONTEXT, "/not-listed.jsonld": USER_CONTEXT})
    server.city_path, server.city = path, server.base + path
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable() -> str:
    return f"http://127.0.0.1:{_closed_port()}/gone.jsonld"


@pytest.fixture
def settings(settings, contexts, unreachable):
    return settings.model_copy(update={"ngsi_context_allowlist": [contexts.city, unreachable]})


FLOW = {"id": "urn:ngsi-ld:Flow:1", "type": "Flow",
        "speedBand": {"type": "Property", "value": "B"}, "lanes": {"type": "Property", "value": 2}}


def test_an_allowed_context_in_a_link_header_is_fetched_and_used(client, keys, contexts):
    url = contexts.city
    writer = {"X-Api-Key": keys["write"], "Link": link(url)}
    response = client.post(f"{BASE}/entities", json=FLOW, headers=writer)
    assert response.status_code == 201, response.text
    full = stored(client, keys["read"], FLOW["id"])
    assert full["type"] == "https://city.example/traffic#Flow"
    assert full["https://city.example/traffic#speedBand"]["value"] == "B"
    assert full["https://city.example/traffic#laneCount"]["value"] == 2
    reader = {"X-Api-Key": keys["read"], "Link": link(url)}
    got = client.get(f"{BASE}/entities/{FLOW['id']}", headers=reader)
    assert got.status_code == 200
    assert got.json()["type"] == "Flow" and got.json()["speedBand"]["value"] == "B"
    assert got.json()["lanes"]["value"] == 2
    assert url in got.headers["link"]
    listing = client.get(f"{BASE}/entities?type=Flow&q=speedBand==%22B%22", headers=reader)
    assert [e["id"] for e in listing.json()] == [FLOW["id"]]
    assert contexts.asked_for(contexts.city_path) == 1  # fetched once, then remembered


def test_an_allowed_context_in_an_ld_json_context_list_is_fetched_and_used(client, keys, contexts):
    url = contexts.city
    entity = {**FLOW, "intensity": {"type": "Property", "value": 40}, "@context": [url, SDM]}
    assert post_ld(client, keys["write"], entity).status_code == 201
    full = stored(client, keys["read"], FLOW["id"])
    assert full["https://city.example/traffic#speedBand"]["value"] == "B"
    assert full[SDM_IRI + "dataModel.Transportation/intensity"]["value"] == 40
    got = client.get(f"{BASE}/entities/{FLOW['id']}", headers={"X-Api-Key": keys["read"], "Link": link(url),
                                                               "Accept": "application/ld+json"})
    assert got.status_code == 200 and got.json()["speedBand"]["value"] == "B"
    assert got.json()["@context"] == url
    assert contexts.asked_for(contexts.city_path) == 1


def test_an_allowed_but_unreachable_context_is_503(client, keys, unreachable):
    writer = {"X-Api-Key": keys["write"], "Link": link(unreachable)}
    for response in (client.post(f"{BASE}/entities", json=FLOW, headers=writer),
                     client.get(f"{BASE}/entities?type=Flow", headers=writer),
                     post_ld(client, keys["write"], {**FLOW, "@context": [unreachable]})):
        assert response.status_code == 503, response.text
        assert response.json()["type"] == ERR + "LdContextNotAvailable"
    assert client.get(f"{BASE}/entities?type=Flow", headers={"X-Api-Key": keys["read"]}).json() == []


def test_a_context_not_in_the_allow_list_is_never_fetched(client, keys, contexts):
    url = f"{contexts.base}/not-listed.jsonld"
    for response in (client.post(f"{BASE}/entities", json=FLOW, headers={"X-Api-Key": keys["write"],
                                                                         "Link": link(url)}),
                     client.get(f"{BASE}/entities?type=Flow", headers={"X-Api-Key": keys["read"],
                                                                        "Link": link(url)}),
                     post_ld(client, keys["write"], {**FLOW, "@context": [SDM, url]})):
        assert response.status_code == 503
        assert response.json()["type"] == ERR + "LdContextNotAvailable"
    assert contexts.asked == []
