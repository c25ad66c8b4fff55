"""What the parking, air-quality and waste pages share: how old a reading is, in words."""

from __future__ import annotations

from datetime import datetime

from parvis.kernel import i18n


def age(when: datetime | None, now: datetime) -> str:
    """"updated 3 minutes ago", in the reader's language ("no reading yet" without one)."""
    tr = i18n.current()
    if when is None:
        return tr.gettext("no reading yet")
    minutes = max(0, int((now - when).total_seconds() // 60))
    if minutes < 1:
        return tr.gettext("updated just now")
    if minutes < 120:
        return tr.ngettext("updated %(num)s minute ago", "updated %(num)s minutes ago", minutes)
    hours = minutes // 60
    if hours < 48:
        return tr.ngettext("updated %(num)s hour ago", "updated %(num)s hours ago", hours)
    return tr.gettext("updated on %(date)s", date=tr.format_datetime(when, "short"))
