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


FAN_OUT_JOB = "alerts.fan_out"


def fan_out_key(alert_id: int) -> str:
    """The key of an alert's fan-out job (at most one per alert)."""
    return f"{FAN_OUT_JOB}:{alert_id}"


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


# ------------------------------------------------------------------------------- relaying

class NotRelayable(ValidationFailed):
    type_slug = "cap-not-relayable"
    title = N_("This CAP message cannot be relayed to the city's people.")


RELAYED_STATUSES = ("Actual", "Exercise", "Test")
RELAYED_MSG_TYPES = ("Alert", "Update", "Cancel")


def check_relayable(alert: Alert) -> None:
    """Refuses an external CAP message the city must not pass on to the public: a System or
    Draft message, an acknowledgement or error, a Restricted or Private one, or an alert (not a
    cancellation) without any info block."""
    if alert.status not in RELAYED_STATUSES:
        raise NotRelayable(N_("Messages with the status %(status)s are not meant for the public: only "
                              "Actual, Exercise and Test messages are relayed."),
                           params={"status": alert.status})
    if alert.msg_type not in RELAYED_MSG_TYPES:
        raise NotRelayable(N_("Acknowledgements and error messages are not relayed."))
    if alert.scope != "Public":
        raise NotRelayable(N_("Only public alerts are relayed; this one is %(scope)s."),
                           params={"scope": alert.scope})
    if not alert.infos and alert.msg_type != "Cancel":
        raise NotRelayable(N_("The alert has no info block: there is nothing to tell people."))
