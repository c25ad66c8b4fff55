"""Whatever a client sends as a subscription, parsing ends in a valid subscription or the
spec's error (never an exception that would be a 500)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from parvis.modules.sensors.standards import context as ldctx
from parvis.modules.sensors.standards.ngsi_ld import NgsiError
from parvis.modules.sensors.standards.subscription_ld import parse_subscription

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.sampled_from(["NO2>5", "http://x.org/a", "Point", "near;maxDistance==5",
                                              "AirQualityObserved", "urn:ngsi-ld:X:1", "(a", "\x00"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=3),
    max_leaves=10)
MEMBERS = ["type", "id", "entities", "watchedAttributes", "q", "geoQ", "notification", "throttling",
           "expiresAt", "isActive", "description", "notificationTrigger", "subscriptionName"]
NOTIFICATION = st.fixed_dictionaries({}, optional={
    "endpoint": st.fixed_dictionaries({"uri": st.sampled_from(["http://127.0.0.1/n", "ftp://x", "\x00"])},
                                      optional={"accept": values, "receiverInfo": values}),
    "attributes": values, "format": values})
bodies = st.fixed_dictionaries({"type": st.just("Subscription")}, optional={
    "entities": st.lists(st.fixed_dictionaries({"type": st.sampled_from(["AirQualityObserved", ""])},
                                               optional={"id": values, "idPattern": values}), max_size=2)
    | values,
    "notification": NOTIFICATION | values, **{m: values for m in MEMBERS if m not in ("type", "entities",
                                                                                     "notification")}})


@hsettings(max_examples=300, deadline=None)
@given(body=st.one_of(values, bodies, st.dictionaries(st.sampled_from(MEMBERS), values, max_size=6)),
       partial=st.booleans())
def test_any_body_parses_or_is_refused_with_the_specs_error(body, partial):
    ctx = ldctx.shipped(ldctx.SDM_CONTEXT_URL)
    try:
        parse_subscription(body, ctx, partial=partial)
    except NgsiError as exc:
        assert exc.status in (400, 422)
