"""Concise representation, and ``pick``/``omit`` (what each entity shows)."""

from __future__ import annotations

from conftest import BASE, air, create

E1 = "urn:ngsi-ld:AirQualityObserved:1"


def test_concise_drops_what_the_members_say(client, w, r):
    create(client, w, air(1, name={"type": "Property", "value": "Market"},
                          refDevice={"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}))
    for url in (f"{BASE}/entities/{E1}?options=concise", f"{BASE}/entities/{E1}?format=concise"):
        body = client.get(url, headers=r).json()
        assert body["id"] == E1 and body["type"] == "AirQualityObserved"
        assert body["name"] == "Market"  # a value alone is the value
        assert body["NO2"] == {"value": 40.0, "unitCode": "GQ", "observedAt": "2026-11-29T08:00:00Z"}
        assert body["refDevice"] == {"object": "urn:ngsi-ld:Device:1"}
        assert body["location"] == {"type": "Point", "coordinates": [104.9, 11.55]}
    listed = client.get(f"{BASE}/entities?type=AirQualityObserved&options=concise", headers=r).json()
    assert listed[0]["name"] == "Market"


def test_pick_and_omit_choose_the_members_shown(client, w, r):
    create(client, w, air(1, name={"type": "Property", "value": "Market"}))
    picked = client.get(f"{BASE}/entities/{E1}?pick=id,NO2", headers=r).json()
    assert set(picked) == {"id", "NO2"}  # even the type can be left out
    omitted = client.get(f"{BASE}/entities/{E1}?omit=location,name", headers=r).json()
    assert set(omitted) == {"id", "type", "NO2"}
    listed = client.get(f"{BASE}/entities?type=AirQualityObserved&pick=id,name", headers=r).json()
    assert listed == [{"id": E1, "name": {"type": "Property", "value": "Market"}}]


def test_lang_shows_a_language_property_in_the_language_asked(client, w, r):
    names = {"fr": "Marché Đông Ba", "vi": "Chợ Đông Ba", "km": "ផ្សារ ដុងបា", "en": "Dong Ba market"}
    create(client, w, air(1, name={"type": "LanguageProperty", "languageMap": names}))
    url = f"{BASE}/entities/{E1}"
    assert client.get(url, headers=r).json()["name"]["languageMap"] == names  # whole without lang
    vi = client.get(f"{url}?lang=vi", headers=r).json()["name"]
    assert vi == {"type": "Property", "value": "Chợ Đông Ba", "lang": "vi"}
    preferred = client.get(f"{url}?lang=ar,km;q=0.9,en;q=0.5", headers=r).json()["name"]
    assert preferred["lang"] == "km" and preferred["value"] == "ផ្សារ ដុងបា"  # no Arabic: the next asked
    assert client.get(f"{url}?lang=vi&options=keyValues", headers=r).json()["name"] == "Chợ Đông Ba"
    fallback = client.get(f"{url}?lang=de", headers=r).json()["name"]
    assert fallback["type"] == "Property" and fallback["lang"] in names  # something, never nothing
    assert client.get(f"{url}?lang=fr&options=concise", headers=r).json()["name"] == {
        "value": "Marché Đông Ba", "lang": "fr"}


def test_options_are_checked_and_simplified_is_key_values(client, w, r):
    create(client, w, air(1))
    url = f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1"
    assert client.get(f"{url}?options=simplified", headers=r).json()["NO2"] == 40.0
    for bad in ("keyvalues", "sysAttrs,nope"):
        refused = client.get(f"{url}?options={bad}", headers=r)
        assert refused.status_code == 400 and "Unknown option" in refused.json()["detail"]
    # Orion-LD's first spelling of count=true
    counted = client.get(f"{BASE}/entities?type=AirQualityObserved&options=count", headers=r)
    assert counted.headers["NGSILD-Results-Count"] == "1"


def test_lang_falls_back_from_a_regional_tag_to_its_language(client, w, r):
    """RFC 4647 lookup (CIM 009 4.15, ETSI 415_01_03): ``nl-BE`` truncates to ``nl`` before any
    other language is tried."""
    names = {"fr": "Grand Place", "nl": "Grote Markt", "zh-Hant": "大廣場"}
    create(client, w, air(1, name={"type": "LanguageProperty", "languageMap": names}))
    url = f"{BASE}/entities/{E1}"
    for lang, code in [("nl-BE", "nl"), ("NL-be", "nl"), ("de-CH,fr", "fr"), ("nl-BE;q=0.5,fr", "fr"),
                       ("zh-Hant-TW", "zh-Hant"), ("zh-Hant-x-private", "zh-Hant"), ("zh", "zh-Hant")]:
        name = client.get(f"{url}?lang={lang}", headers=r).json()["name"]
        assert name == {"type": "Property", "value": names[code], "lang": code}, lang
