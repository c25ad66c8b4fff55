"""The q language and the context code, property-based where it pays (no database)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards.ngsi_ld import NgsiError
from parvis.modules.sensors.standards.query import distance_m, haversine_m, parse_q

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


def test_an_ordering_operator_never_matches_a_relationship():
    """CIM 009 4.9: a Relationship is compared with == and != only (the ETSI suite's 5744_02_04)."""
    entity = {V + "ref": {"type": "Relationship", "object": "urn:dest:qpA"},
              V + "speed": {"type": "Property", "value": 30,
                            V + "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:b"}}}
    for text in ('ref>"urn:a"', 'ref>="urn:a"', 'ref<"urn:z"', "ref<=urn:z", "ref>0",
                 'speed.providedBy>"urn:a"'):
        assert not parse_q(text, CORE)(entity), text
    for text in ('ref=="urn:dest:qpA"', 'ref!="urn:a"', 'ref=="urn:a","urn:dest:qpA"', "ref",
                 'speed.providedBy=="urn:ngsi-ld:Device:b"', 'speed>"urn:a"|ref=="urn:dest:qpA"'):
        assert parse_q(text, CORE)(entity), text
    assert not parse_q('ref!="urn:dest:qpA"', CORE)(entity)


def test_a_language_filter_reads_one_language_or_any():
    """CIM 009 4.9: on a LanguageProperty ``label[fr]`` is its French text, ``label[*]`` its text
    in any language (the ETSI suite's 5744_02_07/08, 5744_06_07/08)."""
    red = {V + "label": {"type": "LanguageProperty", "languageMap": {"en": "red", "fr": "rouge"}}}
    black = {V + "label": {"type": "LanguageProperty", "languageMap": {"en": "black", "fr": ["rouge", "noir"]}}}

    def matched(text: str) -> list[str]:
        return [name for name, entity in (("red", red), ("black", black)) if parse_q(text, CORE)(entity)]
    assert matched('label[*]=="rouge"') == ["red", "black"]
    assert matched('label[fr]=="rouge"') == ["red", "black"]  # one of French's texts
    assert matched('label[en]=="red"') == ["red"] and matched('label[fr]=="red"') == []
    assert matched('label[EN]=="red"') == ["red"]  # language tags match whatever their case
    assert matched('label[*]!="red"') == ["black"]  # no language has it
    assert matched('label[*]=="red","noir"') == ["red", "black"]
    assert matched('label[*]~="^noi"') == ["black"] and matched('label[*]!~="^noi"') == ["red"]
    assert matched('label[*]>"q"') == ["red", "black"] and matched('label[en]>"q"') == ["red"]
    assert matched("label[*]") == ["red", "black"] and matched("label[de]") == []
    assert matched('label=="red"') == []  # without a language filter the map is no text
    # elsewhere [*] is a key like any other
    assert parse_q('x[*]==1', CORE)(attrs(x={"*": 1})) and not parse_q('x[*]==1', CORE)(attrs(x={"a": 1}))


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


def test_the_distance_to_a_line_far_north_is_measured_on_the_sphere():
    """At 85° north a degree of longitude is 9.7 km: the line's end 1° east is the nearest point,
    not a point of it 1° south (111 km) as it would be found in plain degrees."""
    from shapely.geometry import LineString, Point

    line = LineString([(1, 85), (0.9, 84)])
    assert abs(distance_m(Point(0, 85), line) - haversine_m(0, 85, 1, 85)) < 50
    assert distance_m(Point(0, 85), line) < 20_000


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


# ------------------------------------------------------------------ value lists (CIM 009 4.9)

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
scalars = st.integers(min_value=-3, max_value=3) | st.floats(-3, 3, allow_nan=False) | texts


def literal(value) -> str:
    """A value as q writes it: a number as it is, a text quoted (its commas and dots inside)."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


@given(scalars, st.lists(scalars, min_size=2, max_size=5))
def test_value_lists_agree_with_in_and_not_in(value, items):
    entity, listed = attrs(x=value), ",".join(literal(v) for v in items)
    assert parse_q(f"x=={listed}", CORE)(entity) == (value in items)
    assert parse_q(f"x!={listed}", CORE)(entity) == (value not in items)
    assert parse_q(f"(x=={listed})", CORE)(entity) == (value in items)  # ")" ends the list
    assert parse_q(f"x=={listed};x=={literal(value)}", CORE)(entity) == (value in items)
    assert parse_q(f"x!={listed}|y==0", CORE)(entity) == (value not in items)


def test_commas_and_dots_inside_quotes_are_the_texts_own():
    assert parse_q('name=="a,b","c"', CORE)(attrs(name="a,b"))
    assert not parse_q('name=="a,b","c"', CORE)(attrs(name="a"))
    assert parse_q('name=="1..3"', CORE)(attrs(name="1..3"))
    assert not parse_q('name=="1..3"', CORE)(attrs(name=2))
    assert parse_q('name=="x", "y"', CORE)(attrs(name="y"))  # blanks around the comma, as elsewhere in q
    assert parse_q('name=="b".."d"', CORE)(attrs(name="c"))  # a range of texts
    assert not parse_q('name!="a","b"', CORE)(attrs(name="b"))
    assert parse_q('name!="a","b"', CORE)(attrs(name="c"))
    # a pattern is one regular expression, its commas and dots its own, quoted or not
    assert parse_q("x~=^a{1,2}..$", CORE)(attrs(x="aa12"))
    assert not parse_q("x~=^a{1,2}$", CORE)(attrs(x="aaa"))


def test_an_array_is_inside_a_range_when_one_of_its_items_is():
    """[5, 100] has an item above 49 and one below 51, but none inside 49..51."""
    assert not parse_q("x==49..51", CORE)(attrs(x=[5, 100]))
    assert parse_q("x==49..51", CORE)(attrs(x=[5, 50]))
    assert parse_q("x!=49..51", CORE)(attrs(x=[5, 100]))
    assert parse_q('x=="a","b"', CORE)(attrs(x=["c", "b"]))
    assert not parse_q('x!="a","b"', CORE)(attrs(x=["c", "b"]))


def test_lists_and_ranges_only_after_equality_and_well_formed():
    """After >, <, >=, <=, ~= and !~= a list or a range is refused (the ETSI suite's 019_28_06:
    ``a>1..3``), as are lists and ranges with a missing or an extra value."""
    for text in ("x>1..3", "x<1,2", 'x>="a","b"', "x<=1,2", 'x~="a","b"', 'x!~="a".."b"', "x==1,,2",
                 "x==1,", "x==,1", 'x=="a" "b"', "x==1..2..3", "x==1,2..3", 'x=="a"1'):
        with pytest.raises(NgsiError) as caught:
            parse_q(text, CORE)
        assert caught.value.status == 400 and caught.value.kind == "InvalidRequest", text


def holds(pre, entity: dict) -> bool:
    """A prefilter as SQL tests it (queries.py): a number passing the test, or any array."""
    if pre is None:
        return True
    if pre[0] in ("and", "or"):
        results = [holds(p, entity) for p in pre[1]]
        return all(results) if pre[0] == "and" else any(results)
    value = (entity.get(pre[1]) or {}).get("value")
    if isinstance(value, list):
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if pre[0] == "between":
        return pre[2] <= value <= pre[3]
    if pre[0] == "in":
        return value in pre[2]
    return {"==": value == pre[3], ">": value > pre[3], ">=": value >= pre[3], "<": value < pre[3],
            "<=": value <= pre[3]}[pre[2]]


values = scalars | st.booleans() | st.none() | st.lists(st.integers(-3, 3), max_size=3)


@given(values, values, st.lists(scalars, min_size=2, max_size=4), st.integers(-3, 3),
       st.sampled_from(["==", "!=", ">", "<="]), st.sampled_from([";", "|"]), st.booleans())
def test_the_prefilter_never_drops_a_match(x, y, items, n, op, logic, relationship):
    """What SQL tests first keeps every entity q matches (a superset, never fewer), a
    Relationship's object included (SQL reads values: an object never passes its test)."""
    entity = {V + k: {"type": "Property", "value": v} for k, v in (("x", x), ("y", y)) if v is not None}
    if relationship:  # x a Relationship, its object a text like a URI
        entity[V + "x"] = {"type": "Relationship", "object": f"urn:x:{n}"}
    listed = ",".join(literal(v) for v in items) if op in ("==", "!=") else literal(items[0])
    for text in (f"x{op}{listed}", f"x{op}{listed}{logic}y>{n}", f"y=={n}..{n + 2}{logic}x{op}{listed}",
                 f"x=={','.join(str(i) for i in range(n, n + 3))}{logic}y!={literal(items[0])}",
                 f"x{op}{n}{logic}x{op}{literal(f'urn:x:{n}')}"):
        q = parse_q(text, CORE)
        if q(entity):
            assert holds(q.prefilter, entity), (text, entity, q.prefilter)


def test_an_exclamation_mark_before_an_attribute_asks_that_it_be_absent():
    with_name, without = attrs(name="Eiffel", x=1), attrs(x=1)
    assert not parse_q("!name", CORE)(with_name)
    assert parse_q("!name", CORE)(without)
    assert parse_q("!name;x==1", CORE)(without) and not parse_q("!name;x==1", CORE)(with_name)
    assert parse_q("!name|x==2", CORE)(without) and not parse_q("!name|x==2", CORE)(with_name)
    assert parse_q("x!=2", CORE)(without)  # "!=" is still the comparison
    for text in ("!name==1", "!(name)", "!", "!!name"):
        with pytest.raises(NgsiError) as caught:
            parse_q(text, CORE)
        assert caught.value.status == 400
