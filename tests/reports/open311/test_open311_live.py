"""A real client over loopback: uvicorn serves the app, httpx posts a form exactly as a
third-party Open311 client would, then reads the request back in XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from open311_support import API_KEY, LAT, LON, app_fixture, open311_city_fixture  # noqa: F401 (fixtures)

from live_server import LiveServer


@pytest.fixture
def base_url(app, open311_city) -> Iterator[str]:
    with LiveServer(app) as server:
        yield f"{server.url}/open311/v2"


def test_third_party_client_over_loopback(base_url):
    with httpx.Client(base_url=base_url, timeout=10) as http:
        services = ET.fromstring(http.get("/services.xml").content)
        assert "POT" in [s.findtext("service_code") for s in services.findall("service")]
        form = [("api_key", API_KEY), ("service_code", "POT"), ("lat", str(LAT)), ("long", str(LON)),
                ("attribute[depth]", "7"), ("attribute[hazards][]", "water"),
                ("attribute[hazards][]", "night"), ("email", "client@example.org"),
                ("description", "Trou profond devant l'école")]
        response = http.post("/requests.xml", content=urlencode(form).encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        request_id = ET.fromstring(response.content).findtext("request/service_request_id")
        back = ET.fromstring(http.get(f"/requests/{request_id}.xml").content)
        assert back.findtext("request/description") == "Trou profond devant l'école"
        assert (float(back.findtext("request/lat")), float(back.findtext("request/long"))) == (LAT, LON)
        assert "client@example.org" not in http.get("/requests.json").text
