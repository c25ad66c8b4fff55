"""Pure rules of the alerts domain in time: an alert that is already over is never sent, and
an info block cannot end before it starts."""

from __future__ import annotations

from datetime import UTC, datetime

from parvis.kernel.errors import N_, ValidationFailed
from parvis.modules.alerts.standards.cap import Alert


class AlertExpired(ValidationFailed):
    type_slug = "alert-expired"
    title = N_("This alert has already expired.")


class AlertEndsBeforeStart(ValidationFailed):
    type_slug = "alert-ends-before-start"
    title = N_("The alert expires before it takes effect.")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def is_expired(alert: Alert, now: datetime) -> bool:
    """Whether every info block of the alert has expired by ``now`` (one without ``expires``
    never does, nor does an alert without info)."""
    if not alert.infos:
        return False
    return all(i.expires is not None and _aware(i.expires) <= _aware(now) for i in alert.infos)


def check_not_expired(alert: Alert, now: datetime) -> None:
    """Refuses an alert of which any info block has already expired by ``now``."""
    if any(i.expires is not None and _aware(i.expires) <= _aware(now) for i in alert.infos):
        raise AlertExpired()


def check_times(alert: Alert) -> None:
    """Refuses an info block whose ``expires`` is not after its ``effective`` or ``onset``."""
    for info in alert.infos:
        if info.expires is None:
            continue
        starts = [_aware(t) for t in (info.effective, info.onset) if t is not None]
        if any(_aware(info.expires) <= start for start in starts):
            raise AlertEndsBeforeStart()
