"""The CAP 1.2 codec: every document it writes is valid against the OASIS XSD, with CAP's
datetime pattern and lat,lon order, and reads back to the same alert."""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alert_samples import CITY, CITY_HALL, FLOOD_UPDATE, FLOOD_WARNING, xsd_valid
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree
from shapely.geometry import Polygon

from parvis.kernel.errors import ValidationFailed
from parvis.modules.alerts import area
from parvis.modules.alerts.standards import cap

NS = {"cap": cap.NS}
CAP_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
HCMC = ZoneInfo("Asia/Ho_Chi_Minh")


def flood(**changes) -> cap.Alert:
    """A Parvis-composed alert: two languages, a polygon over the city centre, a circle."""
    ring = [(106.69, 10.77), (106.71, 10.77), (106.71, 10.79), (106.69, 10.79), (106.69, 10.77)]
    where = dict(polygons=[ring], circles=[area.Circle(*CITY_HALL, 1.5)], geocodes=[("district", "Q1")])
    infos = [
        cap.Info(language=lang, categories=["Met", "Safety"], event=event, response_types=["Prepare"],
                 urgency="Expected", severity="Severe", certainty="Likely",
                 effective=datetime(2026, 11, 25, 10, tzinfo=HCMC), onset=datetime(2026, 11, 25, 18, tzinfo=HCMC),
                 expires=datetime(2026, 11, 26, 12, tzinfo=HCMC), sender_name="Ville de Hô Chi Minh-Ville",
                 headline=headline, description="Rivière <Saïgon> & canaux", instruction="Montez à l'étage.",
                 web="https://city.example/alerts/42", contact="1022",
                 parameters=[("waterLevel_m", "1.85")], areas=[cap.Area(description=desc, **where)])
        for lang, event, headline, desc in [
            ("fr-FR", "Crue", "Crue attendue ce soir", "Quartier 1"),
            ("vi-VN", "Lũ", "Cảnh báo lũ tối nay", "Quận 1"),
        ]
    ]
    fields = dict(identifier="parvis-hcmc-42", sender="alerts@city.example",
                  sent=datetime(2026, 11, 25, 9, 30, tzinfo=HCMC), infos=infos)
    return cap.Alert(**{**fields, **changes})


def xml_of(alert: cap.Alert, **kwargs) -> etree._Element:
    return etree.fromstring(cap.to_xml(alert, **kwargs))


# ------------------------------------------------------------------------------- writing

def test_a_composed_alert_is_valid_cap_and_reads_back_the_same():
    alert = flood()
    xml = cap.to_xml(alert)
    assert xsd_valid(xml)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(xml)
    assert root.tag == "{urn:oasis:names:tc:emergency:cap:1.2}alert"
    assert [e.findtext("cap:language", namespaces=NS) for e in root.findall("cap:info", NS)] == ["fr-FR", "vi-VN"]
    assert cap.parse(xml) == alert


def test_elements_come_in_the_xsd_order():
    root = xml_of(flood(note="exercise note", codes=["IPAWSv1.0"], incidents=["flood-12"]))
    names = [etree.QName(e).localname for e in root]
    assert names == ["identifier", "sender", "sent", "status", "msgType", "scope", "code", "note", "incidents",
                     "info", "info"]
    info = [etree.QName(e).localname for e in root.find("cap:info", NS)]
    assert info == ["language", "category", "category", "event", "responseType", "urgency", "severity",
                    "certainty", "effective", "onset", "expires", "senderName", "headline", "description",
                    "instruction", "web", "contact", "parameter", "area"]


def test_markup_in_text_is_escaped_and_characters_xml_cannot_carry_are_dropped():
    alert = flood()
    alert.infos[0].headline = "a\x01b <c> & d\x0b"
    root = xml_of(alert)
    assert root.find("cap:info/cap:headline", NS).text == "ab <c> & d"


@pytest.mark.parametrize(("value", "tz", "expected"), [
    (datetime(2026, 11, 25, 9, 30, tzinfo=HCMC), None, "2026-11-25T09:30:00+07:00"),
    (datetime(2026, 11, 25, 2, 30, 15, 987654, tzinfo=UTC), "Asia/Ho_Chi_Minh", "2026-11-25T09:30:15+07:00"),
    (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "America/New_York", "2026-01-15T07:00:00-05:00"),
    (datetime(2026, 7, 15, 12, 0, tzinfo=UTC), "America/New_York", "2026-07-15T08:00:00-04:00"),
    (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "Asia/Kolkata", "2026-01-15T17:30:00+05:30"),
    (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "Asia/Kathmandu", "2026-01-15T17:45:00+05:45"),
    (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "Pacific/Chatham", "2026-01-16T01:45:00+13:45"),
    (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), None, "2026-01-15T12:00:00-00:00"),
    (datetime(2026, 1, 15, 12, 0, tzinfo=ZoneInfo("Europe/Paris")), "UTC", "2026-01-15T11:00:00-00:00"),
    (datetime(2026, 1, 15, 12, 0), None, "2026-01-15T12:00:00-00:00"),  # naive: stored UTC
])
def test_datetimes_follow_the_cap_pattern_in_every_zone(value, tz, expected):
    text = cap.format_datetime(value, tz)
    assert text == expected
    assert CAP_DATETIME.fullmatch(text) and "Z" not in text and "." not in text
    alert = flood(sent=value)
    root = xml_of(alert, tz=tz)
    assert root.findtext("cap:sent", namespaces=NS) == expected
    assert xsd_valid(cap.to_xml(alert, tz=tz))
    assert cap.parse(cap.to_xml(alert, tz=tz)).sent == value.replace(
        microsecond=0, tzinfo=value.tzinfo or UTC)


def test_a_zone_with_seconds_in_its_offset_is_written_in_utc():
    saigon_mean_time = timezone(timedelta(hours=7, minutes=6, seconds=30))
    assert cap.format_datetime(datetime(1900, 1, 1, 12, 0, tzinfo=saigon_mean_time)) == "1900-01-01T04:53:30-00:00"


def test_the_city_zone_is_applied_to_every_datetime_including_references():
    original = flood(sent=datetime(2026, 11, 25, 2, 30, tzinfo=UTC))
    update = flood(identifier="parvis-hcmc-43", msg_type="Update", sent=datetime(2026, 11, 25, 8, tzinfo=UTC),
                   references=[cap.reference_to(original)])
    root = xml_of(update, tz="Asia/Ho_Chi_Minh")
    assert root.findtext("cap:references", namespaces=NS) == \
        "alerts@city.example,parvis-hcmc-42,2026-11-25T09:30:00+07:00"
    assert root.findtext("cap:info/cap:expires", namespaces=NS) == "2026-11-26T12:00:00+07:00"


def test_polygons_and_circles_are_written_lat_then_lon():
    lon, lat = CITY_HALL
    alert = flood()
    alert.infos[0].areas[0].circles = [area.Circle(lon, lat, 2.5)]
    root = xml_of(alert)
    assert root.findtext("cap:info/cap:area/cap:circle", namespaces=NS) == "10.7769,106.7009 2.5"
    polygon = root.findtext("cap:info/cap:area/cap:polygon", namespaces=NS)
    assert polygon == "10.77,106.69 10.77,106.71 10.79,106.71 10.79,106.69 10.77,106.69"
    back = cap.parse(cap.to_xml(alert)).infos[0].areas[0]
    assert back.circles == [(106.7009, 10.7769, 2.5)]
    assert back.polygons[0][0] == (106.69, 10.77)


def test_an_open_ring_is_closed():
    alert = flood()
    alert.infos[0].areas[0].polygons = [[(106.69, 10.77), (106.71, 10.77), (106.70, 10.79)]]
    polygon = xml_of(alert).findtext("cap:info/cap:area/cap:polygon", namespaces=NS).split()
    assert len(polygon) == 4 and polygon[0] == polygon[-1] == "10.77,106.69"


def test_coordinates_are_plain_decimals_never_exponents():
    alert = flood()
    alert.infos[0].areas[0].circles = [area.Circle(0.00001, -0.0000001, 0.5)]
    alert.infos[0].areas[0].polygons = []
    assert xml_of(alert).findtext("cap:info/cap:area/cap:circle", namespaces=NS) == "0,0.00001 0.5"


def test_an_update_and_a_cancel_reference_the_original():
    original = flood()
    for kind in ("Update", "Cancel"):
        follow_up = flood(identifier=f"parvis-hcmc-42-{kind.lower()}", msg_type=kind,
                          sent=datetime(2026, 11, 25, 15, tzinfo=HCMC), references=[cap.reference_to(original)])
        xml = cap.to_xml(follow_up)
        assert xsd_valid(xml)
        root = etree.fromstring(xml)
        assert root.findtext("cap:msgType", namespaces=NS) == kind
        assert root.findtext("cap:references", namespaces=NS) == \
            "alerts@city.example,parvis-hcmc-42,2026-11-25T09:30:00+07:00"
        assert cap.parse(xml).references == [("alerts@city.example", "parvis-hcmc-42", original.sent)]


def test_an_update_without_references_is_refused():
    with pytest.raises(cap.InvalidCap) as caught:
        cap.to_xml(flood(msg_type="Update"))
    assert caught.value.detail == "An update or a cancellation must reference the alert it replaces."


@pytest.mark.parametrize("identifier", ["", "with space", "a,b", "a<b", "a&b", "tab\there"])
def test_identifiers_with_spaces_commas_or_markup_are_refused(identifier):
    with pytest.raises(cap.InvalidCap) as caught:
        cap.to_xml(flood(identifier=identifier))
    assert caught.value.detail == cap.BAD_ID
    assert isinstance(caught.value, ValidationFailed) and caught.value.status == 422


def test_values_outside_caps_vocabulary_are_refused_by_the_schema():
    alert = flood()
    alert.infos[0].urgency = "Soon"
    with pytest.raises(cap.InvalidCap) as caught:
        cap.to_xml(alert)
    assert caught.value.detail == cap.NOT_SCHEMA
    assert "urgency" in caught.value.params["reason"]
    assert caught.value.errors and caught.value.errors[0]["code"] == "cap_schema"


def test_lists_with_spaces_are_quoted_and_read_back():
    alert = flood(scope="Private", addresses=["ops centre", "police"], incidents=["flood 12", "storm-3", ""])
    root = xml_of(alert)
    assert root.findtext("cap:addresses", namespaces=NS) == '"ops centre" police'
    assert root.findtext("cap:incidents", namespaces=NS) == '"flood 12" storm-3 ""'
    assert cap.parse(cap.to_xml(alert)) == alert
    with pytest.raises(cap.InvalidCap):
        cap.to_xml(flood(incidents=['say "hi"']))


def test_a_ceiling_needs_an_altitude():
    alert = flood()
    alert.infos[0].areas[0].ceiling = 100.0
    with pytest.raises(area.InvalidAlertArea):
        cap.to_xml(alert)
    alert.infos[0].areas[0].altitude = 10.5
    assert cap.parse(cap.to_xml(alert)).infos[0].areas[0].ceiling == 100.0


def test_an_alert_without_info_is_valid_cap():
    cancel = cap.Alert(identifier="x-1", sender="s@x", sent=datetime(2026, 1, 1, tzinfo=UTC),
                       msg_type="Cancel", references=[cap.Reference("s@x", "x-0", datetime(2025, 12, 31, tzinfo=UTC))])
    xml = cap.to_xml(cancel)
    assert xsd_valid(xml) and cap.parse(xml) == cancel


# ------------------------------------------------------------------------------- reading

def test_a_real_world_flood_warning_is_read_into_parvis_order():
    alert = cap.parse(FLOOD_WARNING, city=CITY)
    assert alert.identifier == "urn:oid:2.49.0.1.704.0.2026.11.25.0930.flood"
    assert alert.sent == datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    assert alert.source == "Đài KTTV khu vực Nam Bộ"
    assert alert.incidents == ["lu sai gon 2026", "triều-cường-11"]
    fr, vi = alert.infos
    assert (fr.language, vi.language) == ("fr-FR", "vi-VN")
    assert fr.categories == ["Met", "Safety"] and fr.response_types == ["Evacuate", "Avoid"]
    assert fr.description.startswith("La marée haute & les pluies") and "(> 1,70 m)" in fr.description
    assert fr.event_codes == [("WMO_CAP_EVENT", "flood")]
    assert fr.parameters == [("waterLevel_m", "1.85")]
    assert fr.resources[0].size == 48213 and fr.resources[0].mime_type == "image/png"
    assert fr.expires == datetime(2026, 11, 26, 5, tzinfo=UTC)
    assert vi.headline == "Cảnh báo lũ: nước dâng 0,8 m tối nay"
    where = fr.areas[0]
    assert where.polygons[0][:2] == [(106.705, 10.765), (106.735, 10.765)]  # lon, lat
    assert where.circles == [(106.7009, 10.7769, 1.5)]
    assert where.geocodes == [("VN-SGN-district", "760")]
    # Written again, it is still valid CAP and says the same.
    assert xsd_valid(cap.to_xml(alert))
    assert cap.parse(cap.to_xml(alert)) == alert


def test_a_real_world_update_references_the_warning_it_updates():
    original = cap.parse(FLOOD_WARNING)
    update = cap.parse(FLOOD_UPDATE)
    assert update.msg_type == "Update"
    assert update.references == [cap.reference_to(original)]
    assert update.infos[0].expires == datetime(2026, 11, 27, tzinfo=UTC)  # -00:00 is UTC


def test_a_missing_required_element_is_refused_with_the_schema_reason():
    broken = FLOOD_WARNING.replace(b"<sender>canhbao@kttv-nambo.example.vn</sender>", b"")
    with pytest.raises(cap.InvalidCap) as caught:
        cap.parse(broken)
    assert "sender" in caught.value.params["reason"]


@pytest.mark.parametrize("sent", [b"2026-11-25T09:30:00Z", b"2026-11-25T09:30:00.5+07:00",
                                  b"2026-11-25T09:30:00", b"25/11/2026 09:30"])
def test_datetimes_outside_caps_pattern_are_refused(sent):
    with pytest.raises(cap.InvalidCap):
        cap.parse(FLOOD_WARNING.replace(b"2026-11-25T09:30:00+07:00", sent))


def test_another_cap_version_is_refused():
    cap11 = FLOOD_WARNING.replace(b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:oasis:names:tc:emergency:cap:1.1")
    with pytest.raises(cap.InvalidCap):
        cap.parse(cap11)


@pytest.mark.parametrize("polygon", [b"abc", b"10.7,106.7 10.8", b"nan,106.7 10.8,106.8 10.8,106.7 nan,106.7",
                                     b"10.7;106.7 10.8;106.8 10.8;106.7 10.7;106.7", b"1e1,106.7 10.8,106.8 10.7,106.8 1e1,106.7"])
def test_unreadable_polygons_are_refused(polygon):
    doc = FLOOD_UPDATE.replace(b"<circle>10.7580,106.7040 2</circle>", b"<polygon>" + polygon + b"</polygon>")
    with pytest.raises(ValidationFailed):
        cap.parse(doc)


@pytest.mark.parametrize("circle", [b"10.7580,106.7040", b"10.7580,106.7040 -2", b"10.7580,106.7040 0",
                                    b"10.7580,106.7040 inf", b"10.7580 106.7040 2"])
def test_unreadable_or_negative_circles_are_refused(circle):
    doc = FLOOD_UPDATE.replace(b"10.7580,106.7040 2", circle)
    with pytest.raises(ValidationFailed):
        cap.parse(doc)


def test_an_import_checks_its_area_against_the_city_when_asked():
    swapped = FLOOD_UPDATE.replace(b"10.7580,106.7040 2", b"106.7040,10.7580 2")
    with pytest.raises(area.SwappedLatLon):
        cap.parse(swapped, city=CITY)
    hanoi = FLOOD_UPDATE.replace(b"10.7580,106.7040 2", b"21.0285,105.8542 2")
    with pytest.raises(area.AreaOutsideCity):
        cap.parse(hanoi, city=CITY)
    assert cap.parse(hanoi).infos[0].areas[0].circles == [(105.8542, 21.0285, 2.0)]


def test_a_self_intersecting_polygon_in_an_import_is_refused():
    bow_tie = b"<polygon>10.76,106.70 10.78,106.72 10.76,106.72 10.78,106.70 10.76,106.70</polygon>"
    doc = FLOOD_UPDATE.replace(b"<circle>10.7580,106.7040 2</circle>", bow_tie)
    with pytest.raises(area.SelfIntersectingPolygon):
        cap.parse(doc)


# ------------------------------------------------------------------------------- properties

TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff",
                             include_characters="\t\n\r"), max_size=40)
ID = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                           exclude_characters=",<&\ufffe\uffff"), min_size=1, max_size=30)
LIST_ITEM = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='"\ufffe\uffff'), max_size=15)
OFFSETS = st.integers(-14 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
WHEN = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1),
                    timezones=OFFSETS).map(lambda d: d.replace(microsecond=0))
PAIRS = st.lists(st.tuples(TEXT, TEXT), max_size=3)


@st.composite
def rings(draw):
    """A star-shaped ring around a centre anywhere on Earth, at 6 decimals: always simple."""
    lon = draw(st.floats(-179, 179))
    lat = draw(st.floats(-85, 85))
    n = draw(st.integers(3, 10))
    angles = sorted(draw(st.lists(st.integers(0, 359), min_size=n, max_size=n, unique=True)))
    radii = draw(st.lists(st.floats(0.001, 0.5), min_size=n, max_size=n))
    points = [(round(lon + r * math.cos(math.radians(a)), 6), round(lat + r * math.sin(math.radians(a)), 6))
              for a, r in zip(angles, radii, strict=True)]
    ring = [*points, points[0]]
    assume(len(set(points)) >= 3 and Polygon(ring).is_valid)
    return ring


CIRCLES = st.builds(area.Circle, st.floats(-180, 180).map(lambda v: round(v, 6)),
                    st.floats(-90, 90).map(lambda v: round(v, 6)),
                    st.floats(0.001, 500).map(lambda v: round(v, 3)))


@st.composite
def areas(draw):
    altitude = draw(st.none() | st.floats(-1000, 30000).map(lambda v: round(v, 3)))
    ceiling = None if altitude is None else draw(st.none() | st.floats(0, 60000).map(lambda v: round(v, 3)))
    return cap.Area(description=draw(TEXT), polygons=draw(st.lists(rings(), max_size=2)),
                    circles=draw(st.lists(CIRCLES, max_size=2)), geocodes=draw(PAIRS),
                    altitude=altitude, ceiling=ceiling)


RESOURCES = st.builds(cap.Resource, description=TEXT, mime_type=st.sampled_from(["image/png", "application/pdf"]),
                      size=st.none() | st.integers(0, 10**9),
                      uri=st.none() | st.just("https://city.example/map.png"),
                      deref_uri=st.none() | st.just("aGVsbG8="), digest=st.none() | st.just("ab12"))


def maybe(strategy):
    return st.none() | strategy


INFOS = st.builds(
    cap.Info, language=st.sampled_from(["fr-FR", "vi-VN", "en-US", "km-KH", "ar", "vi"]),
    categories=st.lists(st.sampled_from(cap.CATEGORIES), min_size=1, max_size=3),
    event=TEXT, response_types=st.lists(st.sampled_from(cap.RESPONSE_TYPES), max_size=2),
    urgency=st.sampled_from(cap.URGENCIES), severity=st.sampled_from(cap.SEVERITIES),
    certainty=st.sampled_from(cap.CERTAINTIES), audience=maybe(TEXT), event_codes=PAIRS,
    effective=maybe(WHEN), onset=maybe(WHEN), expires=maybe(WHEN), sender_name=maybe(TEXT),
    headline=maybe(TEXT), description=maybe(TEXT), instruction=maybe(TEXT),
    web=maybe(st.from_regex(r"https://city\.example/alerts/[a-z0-9]{1,8}", fullmatch=True)),
    contact=maybe(TEXT), parameters=PAIRS, resources=st.lists(RESOURCES, max_size=1),
    areas=st.lists(areas(), max_size=2),
)


@st.composite
def alerts(draw):
    msg_type = draw(st.sampled_from(cap.MSG_TYPES))
    references = st.lists(st.builds(cap.Reference, ID, ID, WHEN), min_size=msg_type in ("Update", "Cancel"),
                          max_size=3)
    return cap.Alert(identifier=draw(ID), sender=draw(ID), sent=draw(WHEN),
                     status=draw(st.sampled_from(cap.STATUSES)), msg_type=msg_type, source=draw(maybe(TEXT)),
                     scope=draw(st.sampled_from(cap.SCOPES)), restriction=draw(maybe(TEXT)),
                     addresses=draw(st.lists(LIST_ITEM, max_size=3)), codes=draw(st.lists(TEXT, max_size=2)),
                     note=draw(maybe(TEXT)), references=draw(references),
                     incidents=draw(st.lists(LIST_ITEM, max_size=3)), infos=draw(st.lists(INFOS, max_size=3)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alerts())
def test_every_emitted_document_is_valid_cap_and_round_trips(alert):
    xml = cap.to_xml(alert)
    assert xsd_valid(xml)
    for text in etree.fromstring(xml).xpath("//cap:sent|//cap:effective|//cap:onset|//cap:expires",
                                            namespaces=NS):
        assert CAP_DATETIME.fullmatch(text.text)
    assert cap.parse(xml) == alert


def test_documents_validated_on_many_threads_keep_their_own_verdict():
    broken = FLOOD_WARNING.replace(b"<sender>canhbao@kttv-nambo.example.vn</sender>", b"")

    def read(i: int) -> str:
        try:
            return cap.parse(broken if i % 2 else FLOOD_WARNING).identifier
        except cap.InvalidCap as error:
            return "sender" if "sender" in error.params["reason"] else error.params["reason"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(read, range(64)))
    assert results == ["urn:oid:2.49.0.1.704.0.2026.11.25.0930.flood", "sender"] * 32
