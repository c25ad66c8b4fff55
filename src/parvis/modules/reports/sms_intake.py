"""Reports by SMS: an inbound text becomes a report (placed in its district when the short
syntax ``CODE DISTRICT DESCRIPTION`` is followed, else in the "to be located" queue) or a
helpful reply. Runs as a job, after the inbound SMS is stored (see ``jobs``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from parvis.kernel import notify
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import N_, ParvisError
from parvis.kernel.i18n import Translator
from parvis.modules import city
from parvis.modules.reports import actions
from parvis.modules.reports.models import Category, Report, Source
from parvis.modules.reports.schemas import ReportCreate
from parvis.modules.reports.sms import parse
from parvis.settings import Settings


def report_by_sms(db: Database, settings: Settings, sender: str, text: str) -> int | None:
    """Turn an inbound SMS into a report (located when the syntax is followed) or a helpful reply."""
    with db.read() as session:
        cats = list(session.scalars(select(Category).where(Category.active.is_(True))
                                    .order_by(Category.code)))
        parsed = parse(session, text, cats)
        point = None
        if parsed.district_id is not None:
            point = city.district_point(session, parsed.district_id)
        since = utcnow() - timedelta(hours=1)
        recent = session.scalar(select(func.count()).select_from(Report).where(
            Report.reporter_phone == sender, Report.created_at >= since)) or 0
    fallback = next((c for c in cats if c.code == settings.reports_sms_fallback_category.upper()), None)
    code = parsed.category_code or (fallback.code if fallback else None)
    description = parsed.text if parsed.category_code else text.strip()
    if recent >= settings.reports_anonymous_per_hour:
        _reply(db, settings, sender, N_("%(city)s: you have sent many reports this hour. Please wait "
                                        "before sending another."),
               key=f"sms-throttle:{sender}:{since:%Y%m%d%H}")
        return None
    if not code or (not parsed.category_code and len(description) < 3):
        examples = ", ".join(f"{c.code} ({c.name})" for c in cats[:6])
        _reply(db, settings, sender, N_("%(city)s: to report a problem, send: CODE DISTRICT DESCRIPTION. "
                                        "Codes: %(codes)s"), codes=examples)
        return None
    data = ReportCreate(category=code, description=description[:4000],
                        lon=point[0] if point else None, lat=point[1] if point else None,
                        address=parsed.place if point else description[:500] or text[:500],
                        phone=sender, contact_channel="sms")
    try:
        report = actions.create_report(db, settings, None, data, source=Source.SMS)
    except ParvisError as exc:  # answer the sender; a retry would not make the text better
        _reply(db, settings, sender, N_("%(city)s: your report could not be registered: %(reason)s"),
               reason=Translator(settings.default_language).gettext(exc.detail or exc.title, **exc.params))
        return None
    if point is None:
        with db.transaction() as session:
            session.execute(update(Report).where(Report.id == report.id).values(needs_location=True))
    return report.id


def _reply(db: Database, settings: Settings, to: str, message: str, key: str | None = None,
           **params: Any) -> None:
    tr = Translator(settings.default_language)
    with db.transaction() as session:
        notify.enqueue(session, channel=notify.Channel.SMS, to=to, key=key,
                       body=tr.gettext(message, city=settings.city_name, **params),
                       purpose="reports.sms_help")
