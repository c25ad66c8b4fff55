"""The URI parameters each NGSI-LD operation takes (ETSI GS CIM 009 v1.8, clause 6, and TS 104 176
for the temporal API's paging): a request with any other is answered 400 ``BadRequestData``
naming it, as Orion-LD does, rather than run without a filter its client believes it asked for
(a mistyped ``tyep``; ``geoQ``, which belongs in a subscription's body, sent as a parameter).

Parameters of the spec that Parvis does not implement stay in these lists: each operation
answers them as it documents (ignored, or 422 ``OperationNotSupported``, as ``scopeQ``)."""

from __future__ import annotations

from collections.abc import Iterable

# what every operation may carry: the tenant-less broker ignores ``local``; ``lang`` and the
# representation options where the spec lists them are added per operation below
_COMMON = frozenset({"local"})
_FORMAT = frozenset({"options", "format", "lang", "pick", "omit", "expandValues", "entityMap",
                     "join", "joinLevel", "containedBy", "datasetId", "geometryProperty"})
_FILTERS = frozenset({"id", "type", "idPattern", "attrs", "q", "georel", "geometry", "coordinates",
                      "geoproperty", "scopeQ", "csf"})
_PAGES = frozenset({"limit", "offset", "count"})
_TEMPORAL = frozenset({"timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "firstN",
                       "offsetN", "aggrMethods", "aggrPeriodDuration"})
_WRITE = frozenset({"options", "type", "format", "observedAt"})

_V1 = "/ngsi-ld/v1"
PARAMS: dict[tuple[str, str], frozenset[str]] = {
    ("POST", f"{_V1}/entities"): _WRITE,
    ("GET", f"{_V1}/entities"): _FILTERS | _FORMAT | _PAGES,
    ("GET", f"{_V1}/entities/{{entity_id:path}}"): _FORMAT | {"attrs", "type"},
    ("PUT", f"{_V1}/entities/{{entity_id:path}}"): _WRITE,
    ("PATCH", f"{_V1}/entities/{{entity_id:path}}"): _WRITE,
    ("DELETE", f"{_V1}/entities/{{entity_id:path}}"): frozenset({"type"}),
    ("POST", f"{_V1}/entities/{{entity_id:path}}/attrs"): _WRITE,
    ("PATCH", f"{_V1}/entities/{{entity_id:path}}/attrs"): _WRITE,
    ("PUT", f"{_V1}/entities/{{entity_id:path}}/attrs/{{attr_id:path}}"): _WRITE,
    ("PATCH", f"{_V1}/entities/{{entity_id:path}}/attrs/{{attr_id:path}}"): _WRITE,
    ("DELETE", f"{_V1}/entities/{{entity_id:path}}/attrs/{{attr_id:path}}"):
        frozenset({"type", "datasetId", "deleteAll", "lang"}),
    ("POST", f"{_V1}/entityOperations/query"): _FORMAT | _PAGES,
    ("POST", f"{_V1}/entityOperations/{{operation}}"): frozenset({"options"}),
    ("GET", f"{_V1}/types"): frozenset({"details"}),
    ("GET", f"{_V1}/types/{{type_name:path}}"): frozenset(),
    ("GET", f"{_V1}/attributes"): frozenset({"details"}),
    ("GET", f"{_V1}/attributes/{{attr_name:path}}"): frozenset(),
    ("POST", f"{_V1}/subscriptions"): frozenset(),
    ("GET", f"{_V1}/subscriptions"): _PAGES | {"options"},
    ("GET", f"{_V1}/subscriptions/{{sub_id:path}}"): frozenset({"options"}),
    ("PATCH", f"{_V1}/subscriptions/{{sub_id:path}}"): frozenset(),
    ("DELETE", f"{_V1}/subscriptions/{{sub_id:path}}"): frozenset(),
    ("GET", f"{_V1}/temporal/entities"): _FILTERS | _FORMAT | _PAGES | _TEMPORAL,
    ("GET", f"{_V1}/temporal/entities/{{entity_id:path}}"): _FORMAT | _TEMPORAL | {"attrs", "type"},
    ("POST", f"{_V1}/temporal/entityOperations/query"): _FORMAT | _PAGES | _TEMPORAL,
}


# the values ``options`` may hold, any operation (each reads those that concern it): the spec's,
# and ``count``, which clients of Orion-LD's first versions send for ``count=true``
OPTIONS = frozenset({"keyValues", "simplified", "concise", "normalized", "sysAttrs", "noOverwrite",
                     "update", "replace", "temporalValues", "aggregatedValues", "count"})


def allowed(methods: Iterable[str], path: str) -> frozenset[str] | None:
    """The parameters a route takes, or None for a route this table does not know (unchecked)."""
    found = [PARAMS[(method, path)] for method in methods if (method, path) in PARAMS]
    if not found:
        return None
    return _COMMON.union(*found)


def unknown_option(options: str) -> str | None:
    """The first value of an ``options`` parameter that is no option of NGSI-LD's."""
    return next((o for o in (o.strip() for o in options.split(",")) if o and o not in OPTIONS), None)


def unknown(names: Iterable[str], taken: frozenset[str]) -> str | None:
    """The first parameter not in ``taken``, in the order given."""
    return next((name for name in names if name not in taken), None)
