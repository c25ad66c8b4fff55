"""sensors: stored IRIs follow the Smart Data Models' own contexts

Parvis' shipped Smart Data Models context gave some terms other IRIs than the models' published
contexts do: the parking types and their attributes under ``dataModel.Transportation`` (the models
put them under ``dataModel.Parking``), ``address`` under schema.org, ``description`` and
``status`` under smartdatamodels.org; the lower-case pollutants (``no2``, ``o3``...) were not
defined (so in NGSI-LD's default vocabulary); the core context's ``title`` was ``ngsi-ld:title``
(now Dublin Core's, as in the core contexts from 1.6 on). The contexts now agree with the
models'; this migration renames what is stored under the old IRIs: entity types and attribute
names (also sub-attributes), observations and their aggregates, devices' entity types,
subscriptions' selectors, watched and notified attributes and recorded ``q`` terms, and
notifications waiting to be sent. Nothing else changes; downgrading renames back.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 15:10:00
"""
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SDM = 'https://smartdatamodels.org/'
_VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/'
_PARKING = ('OffStreetParking', 'OnStreetParking', 'ParkingSpot', 'aggregateRating',
            'availableSpotNumber', 'extraSpotNumber', 'facilities', 'layout', 'maximumParkingDuration',
            'measuresPeriod', 'measuresPeriodUnit', 'occupancyDetectionType', 'occupiedSpotNumber',
            'parkingMode', 'priceCurrency', 'priceRatePerMinute', 'refParkingAccess', 'refParkingGroup',
            'refParkingSite', 'refParkingSpot', 'requiredPermit', 'totalSpotNumber', 'usageScenario')
# old IRI -> new IRI, written out: a migration does not follow later changes of the contexts
RENAMED: dict[str, str] = {
    **{f'{_SDM}dataModel.Transportation/{t}': f'{_SDM}dataModel.Parking/{t}' for t in _PARKING},
    **{f'{_VOCAB}{p}': f'{_SDM}dataModel.Environment/{p}' for p in ('co', 'no', 'no2', 'nox', 'o3', 'so2')},
    'https://schema.org/address': f'{_SDM}address',
    f'{_SDM}description': 'http://purl.org/dc/terms/description',
    f'{_SDM}dataModel.Transportation/status': 'https://uri.etsi.org/ngsi-ld/status',
    'https://uri.etsi.org/ngsi-ld/title': 'http://purl.org/dc/terms/title',
}
_MEMBERS = {'type', 'value', 'object', 'languageMap', 'observedAt', 'unitCode', 'datasetId',
            'createdAt', 'modifiedAt'}
_CHUNK = 2000


def _attributes(attrs: Any, names: dict[str, str]) -> Any:
    """Attributes (and their sub-attributes) keyed by the new IRIs; values as they are."""
    if not isinstance(attrs, dict):
        return attrs
    out = {}
    for key, value in attrs.items():
        if key in _MEMBERS:
            out[key] = value
        else:
            out[names.get(key, key)] = _attributes(value, names) if isinstance(value, dict) else value
    return out


def _rename_columns(names: dict[str, str]) -> None:
    for table, column in (('sensors_entities', 'type'), ('sensors_devices', 'entity_type'),
                          ('sensors_observations', 'attribute'), ('sensors_aggregates_hourly', 'attribute'),
                          ('sensors_aggregates_daily', 'attribute'),
                          ('sensors_subscription_outbox', 'entity_type')):
        for old, new in names.items():
            op.execute(sa.text(f'UPDATE {table} SET {column} = :new WHERE {column} = :old')
                       .bindparams(old=old, new=new))


def _rewrite(table: str, key: str, columns: Sequence[str], change: Any, names: dict[str, str]) -> None:
    """Rewrite the JSON ``columns`` of the rows of ``table`` that name an old IRI, chunk by chunk."""
    bind = op.get_bind()
    postgres = bind.dialect.name == 'postgresql'
    as_text = ', '.join(f'CAST({c} AS TEXT)' if postgres else c for c in columns)
    sets = ', '.join(f'{c} = CAST(:{c} AS JSON)' if postgres else f'{c} = :{c}' for c in columns)
    after: Any = None
    while True:
        where = f'WHERE {key} > :after ' if after is not None else ''
        rows = bind.execute(sa.text(f'SELECT {key}, {as_text} FROM {table} {where}ORDER BY {key} LIMIT {_CHUNK}'),
                            {'after': after} if after is not None else {}).all()
        if not rows:
            return
        for row in rows:
            texts = row[1:]
            if not any(t and any(old in t for old in names) for t in texts):
                continue
            values = {c: (json.dumps(change(c, json.loads(t), names), ensure_ascii=False, separators=(',', ':'))
                          if t is not None else None)
                      for c, t in zip(columns, texts, strict=True)}
            bind.execute(sa.text(f'UPDATE {table} SET {sets} WHERE {key} = :key'), {**values, 'key': row[0]})
        after = rows[-1][0]


def _entity(_column: str, value: Any, names: dict[str, str]) -> Any:
    return _attributes(value, names)


def _subscription(column: str, value: Any, names: dict[str, str]) -> Any:
    if column == 'entities' and isinstance(value, list):
        return [{**s, 'type': names.get(s.get('type'), s.get('type'))} if isinstance(s, dict) else s
                for s in value]
    if column in ('watched', 'attributes') and isinstance(value, list):
        return [names.get(v, v) if isinstance(v, str) else v for v in value]
    if column == 'q_terms' and isinstance(value, dict) and isinstance(value.get('terms'), dict):
        return {**value, 'terms': {t: names.get(i, i) if isinstance(i, str) else i
                                   for t, i in value['terms'].items()}}
    return value


def _rename(names: dict[str, str]) -> None:
    _rename_columns(names)
    _rewrite('sensors_entities', 'id', ('attrs',), _entity, names)
    _rewrite('sensors_subscription_outbox', 'id', ('attrs',), _entity, names)
    _rewrite('sensors_subscriptions', 'id', ('entities', 'watched', 'attributes', 'q_terms'), _subscription,
             names)


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
