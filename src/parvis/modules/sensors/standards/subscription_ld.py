"""NGSI-LD subscriptions (ETSI GS CIM 009 v1.6+, 5.2.12 and 5.8) <-> Parvis.

A subscription arrives with its terms in the request's context; Parvis keeps them expanded (full
IRIs), the ``q`` text with the expansions of the terms it uses (so that matching needs neither
the context nor the network) and the context itself, to compact the notifications.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import unquote

import orjson

from parvis.modules.sensors.standards import query as ngsiq
from parvis.modules.sensors.standards.context import Context
from parvis.modules.sensors.standards.ngsi_ld import NgsiError, bad, check_uri
from parvis.modules.sensors.standards.type_selection import type_selection

TRIGGERS = ("entityCreated", "entityUpdated", "entityDeleted", "attributeCreated", "attributeUpdated",
            "attributeDeleted")
DEFAULT_TRIGGERS = ["attributeCreated", "attributeUpdated"]
FORMATS = ("normalized", "keyValues", "simplified", "concise")
ACCEPTS = ("application/json", "application/ld+json")
MAX_URI = 2000
MAX_LIST = 100
# Members of the spec that Parvis does not implement: refused rather than silently ignored.
UNSUPPORTED = ("timeInterval", "csf", "temporalQ", "scopeQ", "jsonldContext", "lang", "datasetId",
               "showChanges", "localOnly")
# Other members are ignored: the read-only ones (status, createdAt, modifiedAt; in notification
# timesSent, lastNotification...: CIM 009 Table 5.2.12-2 and 5.2.14, a client "shall not" give them,
# a broker ignores them), and those the spec does not define (another version's, or a client's
# own, such as "__context"), as JSON-LD processing drops them: what Parvis kept is what a GET
# shows. A member Parvis knows is always checked, and refused when its value is wrong.
_URL = re.compile(r"^https?://[^\s/?#@]+(?::[0-9]{1,5})?(?:[/?#]\S*)?$", re.I)
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")


@dataclass
class SubscriptionIn:
    """The members a request gives (for a PATCH, only those in ``given``), expanded."""

    id: str | None = None
    name: str | None = None
    description: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    watched: list[str] | None = None
    triggers: list[str] = field(default_factory=lambda: list(DEFAULT_TRIGGERS))
    q: str | None = None
    q_terms: dict[str, Any] | None = None
    geo_q: dict[str, Any] | None = None
    notification: dict[str, Any] = field(default_factory=dict)  # attributes, format, endpoint...
    throttling: float = 0.0
    expires_at: datetime | None = None
    is_active: bool = True
    given: set[str] = field(default_factory=set)


class _Recording:
    """A context that remembers the terms it expanded (those of a ``q``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.terms = ctx, dict[str, str]()

    def expand(self, term: str) -> str:
        self.terms[term] = iri = self.ctx.expand(term)
        return iri


def q_context(q_terms: dict[str, Any]) -> Context:
    """The context a stored ``q`` is evaluated with: exactly the expansions recorded."""
    return Context(terms=dict(q_terms.get("terms") or {}), vocab=q_terms.get("vocab") or "")


def parse_subscription(body: Any, ctx: Context, *, partial: bool = False) -> SubscriptionIn:
    if not isinstance(body, dict):
        raise bad("A subscription must be a JSON object.")
    _no_nul(body)
    out = SubscriptionIn()
    for key in body:
        if key in UNSUPPORTED:
            raise NgsiError("OperationNotSupported", f"Subscriptions with {key} are not supported.")
    if (not partial or "type" in body) and body.get("type") != "Subscription":
        raise bad('A subscription must have "type": "Subscription".')
    for key, value in body.items():
        handler = _MEMBERS.get(key)
        if handler is None:  # type, read-only and unknown members (see UNSUPPORTED)
            continue
        if value is None and partial and key in _REMOVABLE:
            setattr(out, _REMOVABLE[key], None if key != "throttling" else 0.0)
            if key == "q":
                out.q_terms = None
        else:
            handler(out, value, ctx)
        out.given.add(key)
    if not partial:
        if "endpoint" not in out.notification:
            raise bad("A subscription needs a notification with an endpoint (its uri).")
        check_selects(out.entities, out.watched)
    return out


def _no_nul(value: Any, depth: int = 0) -> None:
    """No text with a NUL character (databases refuse them in text columns)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise bad("Texts cannot hold the NUL character.")
    elif isinstance(value, dict) and depth < 40:
        for key, item in value.items():
            _no_nul(key, depth + 1)
            _no_nul(item, depth + 1)
    elif isinstance(value, list) and depth < 40:
        for item in value:
            _no_nul(item, depth + 1)


def check_selects(entities: list[dict[str, Any]], watched: list[str] | None) -> None:
    if not entities and not watched:
        raise bad("A subscription needs entities or watchedAttributes (or both).")


def _id(out: SubscriptionIn, value: Any, _ctx: Context) -> None:
    out.id = check_uri(value, "The subscription id")


def _text(limit: int, attr: str, what: str) -> Any:
    def parse(out: SubscriptionIn, value: Any, _ctx: Context) -> None:
        if not isinstance(value, str) or len(value) > limit:
            raise bad(f"{what} must be text of at most {limit} characters.")
        setattr(out, attr, value)
    return parse


def _entities(out: SubscriptionIn, value: Any, ctx: Context) -> None:
    if not isinstance(value, list) or not value or len(value) > MAX_LIST:
        raise bad(f"entities must be a non-empty array of at most {MAX_LIST} selectors.")
    selectors = []
    for item in value:
        if not isinstance(item, dict) or "type" not in item:
            raise bad("Each member of entities must be an object with a type.")
        selection, types = type_selection(item["type"], ctx, "entities")
        # a single type is kept as its IRI (as always); a selection as written, its names
        # expanded, with the types it selects beside it for matching
        selector: dict[str, Any] = {"type": selection} if types == [selection] else {
            "type": selection, "types": types}
        if "id" in item:
            selector["id"] = check_uri(item["id"], "entities: an id")
        if "idPattern" in item:
            # checked even beside an id, which takes precedence over it when matching
            ngsiq.id_pattern(item["idPattern"])  # a 400 now, not a failure when matching
            selector["idPattern"] = item["idPattern"]
        selectors.append(selector)
    out.entities = selectors


def _names(value: Any, ctx: Context, what: str) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_LIST:
        raise bad(f"{what} must be a non-empty array of at most {MAX_LIST} attribute names.")
    names = []
    for term in value:
        if not isinstance(term, str) or not term or len(term) > 256 or any(c in term for c in " <>\"'=;()"):
            raise bad(f"{what}: {str(term)[:40]!r} is not a valid attribute name.")
        names.append(ctx.expand(term))
    return list(dict.fromkeys(names))


def _watched(out: SubscriptionIn, value: Any, ctx: Context) -> None:
    out.watched = _names(value, ctx, "watchedAttributes")


def _triggers(out: SubscriptionIn, value: Any, _ctx: Context) -> None:
    if not isinstance(value, list) or not value or not all(v in TRIGGERS for v in value):
        raise bad(f"notificationTrigger must be a non-empty array among {', '.join(TRIGGERS)}.")
    out.triggers = list(dict.fromkeys(value))


_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _q(out: SubscriptionIn, value: Any, ctx: Context) -> None:
    if not isinstance(value, str) or not value.strip():
        raise bad("q must be a non-empty query text.")
    if _PERCENT_ESCAPE.search(value):
        # A q is percent-encoded in a body as in a URL: ngsildclient sends "NO2%3E100", the ETSI
        # suite (046_05) 'name=="Eiffel%20Tower"' for "Eiffel Tower". Decoded, it is the query the
        # client meant (a "%" meant as itself is sent as %25).
        value = unquote(value)
    recording = _Recording(ctx)
    parsed = ngsiq.parse_q(value, cast(Context, recording))
    if ngsiq.NGSI_LD + "createdAt" in parsed.attributes:
        # a notification is evaluated on the change, which knows when the entity changed
        # (modifiedAt), not when it was created
        raise bad("A subscription's q cannot test the entity's createdAt (modifiedAt it can; an "
                  "attribute's own createdAt, attr.createdAt, too).")
    out.q, out.q_terms = value, {"terms": recording.terms, "vocab": ctx.vocab}


def _geo_q(out: SubscriptionIn, value: Any, ctx: Context) -> None:
    if not isinstance(value, dict):
        raise bad("geoQ must be an object with geometry, coordinates and georel.")
    coordinates = value.get("coordinates")
    text = coordinates if isinstance(coordinates, str) else orjson.dumps(coordinates).decode()
    georel, geometry = value.get("georel"), value.get("geometry")
    if not isinstance(georel, str) or not isinstance(geometry, str) or coordinates is None:
        raise bad("geoQ needs geometry, coordinates and georel.")
    query = ngsiq.parse_geo(georel, geometry, text, value.get("geoproperty"), ctx)
    assert query is not None
    out.geo_q = {"georel": georel, "geometry": geometry,
                 "coordinates": orjson.loads(text) if isinstance(coordinates, str) else coordinates}
    if query.prop is not None:  # stored expanded, shown compacted with the reader's context
        out.geo_q["geoproperty"] = query.prop


def geo_query(geo_q: dict[str, Any]) -> ngsiq.GeoQuery:
    query = ngsiq.parse_geo(geo_q["georel"], geo_q["geometry"], orjson.dumps(geo_q["coordinates"]).decode(),
                            geo_q.get("geoproperty"))
    assert query is not None
    return query


def _notification(out: SubscriptionIn, value: Any, ctx: Context) -> None:
    if not isinstance(value, dict):
        raise bad("notification must be an object with an endpoint.")
    parsed: dict[str, Any] = {}
    for key, member in value.items():
        if key == "attributes":
            parsed["attributes"] = _names(member, ctx, "notification.attributes")
        elif key == "format":
            if member not in FORMATS:
                raise bad(f"notification.format must be one of {', '.join(FORMATS)}.")
            parsed["format"] = "keyValues" if member == "simplified" else member
        elif key == "sysAttrs":
            if not isinstance(member, bool):
                raise bad("notification.sysAttrs must be true or false.")
            parsed["sysAttrs"] = member
        elif key == "endpoint":
            parsed.update(_endpoint(member))
        # read-only and unknown members are ignored (see UNSUPPORTED); those of the spec that Parvis
        # does not implement, next
    _not_implemented(value)
    out.notification = parsed


def _not_implemented(value: dict[str, Any]) -> None:
    """The members of NotificationParams (CIM 009 5.2.14) that Parvis does not implement: checked
    as the spec says (400 when wrong), then refused (422), unless they ask for what Parvis does
    anyway (showChanges false, join "@none": no linked entities)."""
    lists: dict[str, set[str]] = {}
    for key in ("pick", "omit"):
        if key in value:
            names = value[key]
            if (not isinstance(names, list) or not names
                    or not all(isinstance(n, str) and n for n in names)):
                raise bad(f"notification.{key} must be a non-empty array of entity member names.")
            lists[key] = set(names)
    if lists and "attributes" in value:
        raise bad(f"notification.{next(iter(lists))} cannot be given with notification.attributes.")
    if len(lists) == 2 and lists["pick"] & lists["omit"]:
        raise bad("notification.pick and notification.omit cannot name the same member.")
    show = value.get("showChanges", False)
    if not isinstance(show, bool):
        raise bad("notification.showChanges must be true or false.")
    if show and value.get("format") in ("keyValues", "simplified"):
        raise bad("notification.showChanges cannot be true with the keyValues format.")
    join = value.get("join", "@none")
    if join not in ("flat", "inline", "@none"):
        raise bad('notification.join must be "flat", "inline" or "@none".')
    level = value.get("joinLevel", 1)
    if (isinstance(level, bool) or not isinstance(level, (int, float)) or not math.isfinite(level)
            or level < 1 or level != int(level)):
        raise bad("notification.joinLevel must be a whole number, at least 1.")
    for key, asked in (("pick", "pick" in lists), ("omit", "omit" in lists), ("showChanges", show),
                       ("join", join != "@none")):
        if asked:
            raise NgsiError("OperationNotSupported", f"notification.{key} is not supported.")


def _pairs(info: Any, what: str) -> list[dict[str, str]]:
    """A KeyValuePair array (CIM 009 5.2.22): each {"key": text, "value": text}, nothing else."""
    if not isinstance(info, list) or len(info) > 20:
        raise bad(f"{what} must be an array of at most 20 {{key, value}} objects.")
    for pair in info:
        if (not isinstance(pair, dict) or set(pair) != {"key", "value"}
                or not isinstance(pair["key"], str) or not pair["key"] or len(pair["key"]) > 256
                or not isinstance(pair["value"], str) or len(pair["value"]) > 1000):
            raise bad(f'{what}: each member is {{"key": text, "value": text}}.')
    return [{"key": pair["key"], "value": pair["value"]} for pair in info]


def _endpoint(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad("notification.endpoint must be an object with a uri.")
    uri = value.get("uri")
    if not isinstance(uri, str) or len(uri) > MAX_URI or not _URL.match(uri):
        raise bad("notification.endpoint.uri must be an http:// or https:// URL (MQTT endpoints are "
                  "not supported).")
    accept = value.get("accept", ACCEPTS[0])
    if accept not in ACCEPTS:
        raise bad(f"notification.endpoint.accept must be {' or '.join(ACCEPTS)}.")
    out: dict[str, Any] = {"endpoint": uri, "uri": uri, "accept": accept, "receiver_info": None}
    if value.get("notifierInfo") is not None:  # it sets up the channel (MQTT's QoS...): nothing for HTTP
        _pairs(value["notifierInfo"], "notification.endpoint.notifierInfo")
    timeout = value.get("timeout", 0)  # the spec lets the broker override it: Parvis's own is used
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout < math.inf:
        raise bad("notification.endpoint.timeout must be a number of milliseconds.")
    if "cooldown" in value:
        raise NgsiError("OperationNotSupported", "notification.endpoint.cooldown is not supported (a "
                        "failed notification is retried after PARVIS_SENSORS_NOTIFY_RETRY_SECONDS, doubled "
                        "each time).")
    info = value.get("receiverInfo")
    if info is not None:
        pairs = _pairs(info, "notification.endpoint.receiverInfo")
        for pair in pairs:  # sent as HTTP headers
            if not _HEADER.match(pair["key"]) or any(c in pair["value"] for c in "\r\n\0"):
                raise bad("receiverInfo: each member is {\"key\": header name, \"value\": text}.")
            if pair["key"].lower() in ("content-type", "content-length", "host", "link"):
                raise bad(f"receiverInfo cannot set the {pair['key']} header.")
        out["receiver_info"] = pairs
    return out


def _throttling(out: SubscriptionIn, value: Any, _ctx: Context) -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value < 0 or value > 86_400 * 30):
        raise bad("throttling must be a number of seconds, at least 0.")
    out.throttling = float(value)


def parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise bad(f"{name} must be an ISO 8601 date and time.")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise bad(f"{name} is not an ISO 8601 date and time: {value!r}.") from None
    if when.tzinfo is None:
        raise bad(f"{name} must give its time zone (such as Z for UTC).")
    return when.astimezone(UTC)


def _expires(out: SubscriptionIn, value: Any, _ctx: Context) -> None:
    at = parse_time(value, "expiresAt")
    if at <= datetime.now(UTC):  # the spec: a subscription cannot be made (or set) to end in the past
        raise bad(f"expiresAt ({value}) is in the past.")
    out.expires_at = at


def _active(out: SubscriptionIn, value: Any, _ctx: Context) -> None:
    if not isinstance(value, bool):
        raise bad("isActive must be true or false.")
    out.is_active = value


_MEMBERS = {"id": _id, "subscriptionName": _text(256, "name", "subscriptionName"),
            "description": _text(2000, "description", "description"), "entities": _entities,
            "watchedAttributes": _watched, "notificationTrigger": _triggers, "q": _q, "geoQ": _geo_q,
            "notification": _notification, "throttling": _throttling, "expiresAt": _expires,
            "isActive": _active}
# Members a PATCH may remove by setting them to null (member -> SubscriptionIn attribute).
_REMOVABLE = {"subscriptionName": "name", "description": "description", "watchedAttributes": "watched",
              "q": "q", "geoQ": "geo_q", "throttling": "throttling", "expiresAt": "expires_at"}


# ----------------------------------------------------------------------------------- output

def stamp(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_of(is_active: bool, expires_at: datetime | None, now: datetime) -> str:
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active" if is_active else "paused"


_TYPE_OPERATOR = re.compile(r"([,;|()])")


def _render_selector(selector: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """A stored selector as the API shows it: its type, or each name of its type selection,
    compacted; the types a selection selects are for matching only."""
    out = {k: v for k, v in selector.items() if k != "types"}
    if "types" not in selector:
        out["type"] = ctx.compact(selector["type"])
    else:  # a part of an IRI that holds an operator is not compacted, and stays as it was
        out["type"] = "".join(part if _TYPE_OPERATOR.fullmatch(part) else ctx.compact(part)
                              for part in _TYPE_OPERATOR.split(selector["type"]) if part)
    return out


def render_subscription(row: Any, ctx: Context, now: datetime, *, sysattrs: bool = False) -> dict[str, Any]:
    """A stored subscription as the API shows it, its terms compacted with ``ctx``."""
    out: dict[str, Any] = {"id": row.id, "type": "Subscription"}
    if row.name:
        out["subscriptionName"] = row.name
    if row.description:
        out["description"] = row.description
    if row.entities:
        out["entities"] = [_render_selector(s, ctx) for s in row.entities]
    if row.watched:
        out["watchedAttributes"] = [ctx.compact(i) for i in row.watched]
    out["notificationTrigger"] = list(row.triggers)
    if row.q:
        out["q"] = row.q
    if row.geo_q:
        out["geoQ"] = dict(row.geo_q)
        if "geoproperty" in row.geo_q:
            out["geoQ"]["geoproperty"] = ctx.compact(row.geo_q["geoproperty"])
    endpoint: dict[str, Any] = {"uri": row.endpoint, "accept": row.accept}
    if row.receiver_info:
        endpoint["receiverInfo"] = list(row.receiver_info)
    notification: dict[str, Any] = {"format": row.format, "endpoint": endpoint,
                                    "timesSent": row.times_sent}
    if row.attributes:
        notification["attributes"] = [ctx.compact(i) for i in row.attributes]
    if row.sys_attrs:
        notification["sysAttrs"] = True
    if row.delivery_status:
        notification["status"] = row.delivery_status
    for key, when in (("lastNotification", row.last_notification), ("lastSuccess", row.last_success),
                      ("lastFailure", row.last_failure)):
        if when is not None:
            notification[key] = stamp(when)
    if row.failure_reason and row.delivery_status == "failed":
        notification["lastFailureReason"] = row.failure_reason
    out["notification"] = notification
    if row.throttling:
        out["throttling"] = int(row.throttling) if float(row.throttling).is_integer() else row.throttling
    if row.expires_at is not None:
        out["expiresAt"] = stamp(row.expires_at)
    out["isActive"] = row.is_active
    out["status"] = status_of(row.is_active, row.expires_at, now)
    if sysattrs:
        out["createdAt"], out["modifiedAt"] = stamp(row.created_at), stamp(row.modified_at)
    return out
