"""The q language and the context code, property-based where it pays (no database)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards.ngsi_ld import NgsiError
from parvis.modules.sensors.standards.query import haversine_m, parse_q

CORE = ldctx.core()
V = ldctx.DEFAULT_VOCAB


def attrs(**values) -> dict:
    return {V + k: {"type": "Property", "value": v} for k, v in values.items()}


numbers = st.integers(min_value=-10**6, max_value=10**6)


@given(numbers, numbers)
def test_comparisons_agree_with_python(a, b):
    entity = attrs(x=a)
    assert parse_q(f"x=={b}", CORE)(entity) == (a == b)
    assert parse_q(f"x!={b}", CORE)(entity) == (a != b)
    assert parse_q(f"x>{b}", CORE)(entity) == (a > b)
    assert parse_q(f"x>={b}", CORE)(entity) == (a >= b)
    assert parse_q(f"x<{b}", CORE)(entity) == (a < b)
    assert parse_q(f"x<={b}", CORE)(entity) == (a <= b)


@given(numbers, numbers, numbers)
def test_and_or_precedence(a, b, c):
    entity = attrs(x=a, y=b)
    expected = (a > c and b > c) or a == b
    assert parse_q(f"x>{c};y>{c}|x=={b}", CORE)(entity) == expected
    assert parse_q(f"(x>{c};y>{c})|x=={b}", CORE)(entity) == expected
    assert parse_q(f"x>{c};(y>{c}|x=={b})", CORE)(entity) == (a > c and (b > c or a == b))


@given(st.text(max_size=60))
def test_any_text_parses_or_is_an_invalid_request(text):
    try:
        predicate = parse_q(text, CORE)
    except NgsiError as exc:
        assert exc.status == 400
    else:
        predicate(attrs(x=1, y="a"))


@given(st.text(alphabet=st.characters(blacklist_characters='"\\', blacklist_categories=("Cs",)), max_size=20))
def test_quoted_strings_match_exactly(value):
    assert parse_q(f'name=="{value}"', CORE)(attrs(name=value))
    assert not parse_q(f'name=="{value}x"', CORE)(attrs(name=value))


def test_missing_attributes_and_mismatched_types_do_not_match():
    assert not parse_q("x>1", CORE)(attrs(y=5))
    assert not parse_q('x>"a"', CORE)(attrs(x=5))
    assert parse_q("x!=1", CORE)(attrs(x="1"))
    assert parse_q("x==true", CORE)(attrs(x=True)) and not parse_q("x==1", CORE)(attrs(x=True))


def test_relationship_objects_are_compared():
    entity = {V + "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}}
    assert parse_q('refDevice=="urn:ngsi-ld:Device:1"', CORE)(entity)


def test_contexts_expand_and_compact():
    sdm = ldctx.shipped(ldctx.SDM_CONTEXT_URL)
    iri = sdm.expand("fillingLevel")
    assert iri == "https://smartdatamodels.org/dataModel.WasteManagement/fillingLevel"
    assert sdm.compact(iri) == "fillingLevel" and CORE.compact(iri) == iri
    assert CORE.expand("ngsi-ld:location") == "https://uri.etsi.org/ngsi-ld/location"
    assert CORE.expand("urn:x:y") == "urn:x:y"
    inline = ldctx.build({"ex": "https://example.org/", "speed": "ex:speed", "@vocab": "https://v.org/"})
    assert inline.expand("speed") == "https://example.org/speed"
    assert inline.expand("other") == "https://v.org/other"
    assert inline.compact("https://v.org/other") == "other"
    assert inline.expand("location") == "https://uri.etsi.org/ngsi-ld/location"  # core terms win
    with pytest.raises(ldctx.ContextError):
        ldctx.build("https://example.org/unknown.jsonld")
    with pytest.raises(ldctx.ContextError):
        ldctx.build({"a": 5})


def test_haversine_known_distance():
    # One degree of longitude at the equator: 111.2 km.
    assert abs(haversine_m(0, 0, 1, 0) - 111_195) < 10


@pytest.mark.parametrize("text", ["(" * 30 + "x>1" + ")" * 30, 'x~="(?=a)"', 'x~="(a)\\\\1"',
                                  'x~="a{2000}"', 'x~="("'])
def test_deep_nesting_and_patterns_re2_cannot_run_are_refused(text):
    with pytest.raises(NgsiError):
        parse_q(text, CORE)


@pytest.mark.parametrize("pattern, hit", [("^((a+))+$", False), ("^(a+)+$", False), ("^(a|aa)*$", False),
                                          ("((a*)*)*b", False), ("^(a*a?)*!$", True)])
def test_runaway_patterns_match_in_linear_time(pattern, hit):
    # Backtracking engines take 2^40 steps here; RE2 is linear in the text.
    started = time.monotonic()
    assert parse_q(f"x~={json.dumps(pattern)}", CORE)(attrs(x="a" * 40 + "!")) is hit
    assert time.monotonic() - started < 1


def test_a_plain_group_with_a_quantifier_is_fine():
    assert parse_q('x~="^(ab)+c$"', CORE)(attrs(x="ababc"))
    assert parse_q("(" * 5 + "x>1" + ")" * 5, CORE)(attrs(x=2))


def test_a_query_percent_encoded_once_too_often_is_refused_not_read_as_a_name():
    """"NO2%3E100" would otherwise test the existence of an attribute of that name: never true."""
    with pytest.raises(NgsiError, match="percent-encoded twice"):
        parse_q("NO2%3E100", CORE)
    assert parse_q("NO2>100", CORE)(attrs(NO2=150))
