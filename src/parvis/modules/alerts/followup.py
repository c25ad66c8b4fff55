"""An Update whose area shrank still reaches the people its earlier messages reached.

The fan-out of an Update resolves only its new area. Someone warned by the original whose place
the Update no longer covers would otherwise keep the old warning in mind and never hear that it
ended for them: ``left_behind`` finds them (reached before, on the delivery records, and not in
the new area), and ``fan_out`` tells each of them, on the channels the original used, in their
language, that the alert no longer concerns their place, with the Update's headline and link.

Their messages are delivery records of the Update flagged ``followup``, keyed like every alert
message (``alert:{id}:{person}:{channel}``): a re-run sends nothing twice, a cancel of the
Update withdraws what is still queued, and a later Update does not count them as reached.
The job waits until the earlier messages' own fan-out has finished, so nobody is missed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parvis.kernel import jobs, notify
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_
from parvis.kernel.i18n import Translator
from parvis.kernel.jobs import JobStatus
from parvis.modules.alerts import rules, targeting
from parvis.modules.alerts.models import Alert, AlertInfo, Delivery, DeliveryState, State
from parvis.modules.alerts.targeting import CityMap, Recipient
from parvis.settings import Settings

FOLLOW_UP_JOB = "alerts.follow_up"
MAX_ATTEMPTS = 12  # retries with backoff while earlier fan-outs run: about an hour in all
BATCH = 500
NO_LONGER = N_("This alert no longer concerns your place.")


class EarlierFanOutRunning(RuntimeError):
    """The earlier messages are still being queued: the job runs again later."""


def reached_by_earlier(session: Session, alert: Alert) -> dict[str, Recipient]:
    """The people the messages this one replaces reached, as each latest message left them."""
    return targeting.reached_before(session, alert)


def left_behind(session: Session, alert: Alert, cmap: CityMap | None = None,
                still: dict[str, Recipient] | None = None) -> dict[str, Recipient]:
    """For an Update: the people its earlier messages reached whose places it no longer covers
    (nobody for any other message). ``still``: the Update's own recipients, when already resolved."""
    if alert.msg_type != "Update":
        return {}
    before = reached_by_earlier(session, alert)
    if not before:
        return {}
    if still is None:
        still = targeting.resolve(session, alert, cmap)
    covered = {(channel, address) for rec in still.values()
               for channel, address in rec.addresses() if channel in rec.channels}
    left: dict[str, Recipient] = {}
    for person, rec in before.items():
        if person in still:
            continue
        # A phone or address the Update reaches under another person's name is not told it ended.
        rec.channels -= {channel for channel, address in rec.addresses() if (channel, address) in covered}
        if rec.channels:
            left[person] = rec
    return left


def earlier_fan_out_running(session: Session, alert: Alert) -> bool:
    keys = [rules.fan_out_key(i) for i in targeting.chain(session, alert)]
    running = (JobStatus.QUEUED, JobStatus.RUNNING)
    return any(status in running for status in jobs.statuses(session, keys).values())


def message_for(alert: Alert, info: AlertInfo, settings: Settings) -> targeting.Message:
    """"[UPDATE] City: <the Update's headline>. This alert no longer concerns your place. <link>"."""
    tr = Translator(info.language)
    marks = [tr.gettext(targeting.PREFIXES[v]) for v in (alert.status, alert.msg_type)
             if v in targeting.PREFIXES]
    prefix = "".join(f"[{m}] " for m in marks)
    link = f"{settings.base_url}/alerts/{alert.id}"
    subject = f"{prefix}{info.headline}"
    body = f"{prefix}{settings.city_name}: {info.headline}. {tr.gettext(NO_LONGER)}"
    if len(body) + len(link) + 1 > targeting.SMS_MAX:
        body = body[:targeting.SMS_MAX - len(link) - 2].rstrip() + "…"
    return targeting.Message(subject, f"{body} {link}", link)


def _queue(session: Session, alert: Alert, message: targeting.Message, rec: Recipient, channel: str,
           language: str, now: Any) -> Delivery:
    key = targeting.outbox_key(alert.id, rec.person, channel)
    row = Delivery(alert_id=alert.id, person=rec.person, channel=channel, user_id=rec.user_id, address="",
                   language=language, state=DeliveryState.QUEUED, reason="", outbox_key=key, followup=True,
                   created_at=now, updated_at=now)
    if channel == "push":
        sent = (notify.enqueue_push(session, user_id=rec.user_id, title=message.subject, body=message.body,
                                    key=key, purpose=targeting.PURPOSE, data={"url": message.link})
                if rec.user_id else [])
        if sent:
            row.outbox_id = sent[0].id
        else:
            row.state, row.reason = DeliveryState.FAILED, "no push subscription"
        return row
    address = rec.phone if channel == "sms" else rec.email
    if not address:
        row.state, row.reason = DeliveryState.FAILED, f"no {channel} address"
        return row
    row.address = address
    row.outbox_id = notify.enqueue(session, channel=channel, to=address, body=message.body,
                                   subject=message.subject if channel == "email" else "", user_id=rec.user_id,
                                   key=key, purpose=targeting.PURPOSE, data={"url": message.link}).id
    return row


def fan_out(db: Database, settings: Settings, alert_id: int, *, batch: int = BATCH) -> int:
    """Tell the people an approved Update left behind; returns how many messages this run added.

    Raises ``EarlierFanOutRunning`` while the earlier messages are still being queued (the job
    is retried later); stops at the first batch that finds the Update no longer approved."""
    with db.read() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.state != State.APPROVED or alert.msg_type != "Update":
            return 0
        if earlier_fan_out_running(session, alert):
            raise EarlierFanOutRunning(f"the messages alert {alert_id} replaces are still being queued")
        infos = {i.language: i for i in session.scalars(
            select(AlertInfo).where(AlertInfo.alert_id == alert_id).order_by(AlertInfo.id))}
        if not infos:
            return 0
        people = left_behind(session, alert)
    messages = {lang: message_for(alert, info, settings) for lang, info in infos.items()}
    ordered = sorted(people.values(), key=lambda r: r.person)
    added = 0
    for start in range(0, len(ordered), batch):
        chunk = ordered[start:start + batch]
        with db.transaction() as session:
            lock = select(Alert.state).where(Alert.id == alert_id)
            if not db.is_sqlite:
                lock = lock.with_for_update()
            if session.scalar(lock) != State.APPROVED:
                break
            done = {(person, channel) for person, channel in session.execute(
                select(Delivery.person, Delivery.channel).where(
                    Delivery.alert_id == alert_id, Delivery.person.in_([r.person for r in chunk])))}
            now = utcnow()
            for rec in chunk:
                info = targeting.choose_info(infos, rec.language, settings.default_language)
                for channel in sorted(rec.channels):
                    if (rec.person, channel) not in done:
                        session.add(_queue(session, alert, messages[info.language], rec, channel,
                                           info.language, now))
                        added += 1
    return added
