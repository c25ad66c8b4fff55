"""Translatable labels of the reports vocabulary, for pages."""

from __future__ import annotations

from parvis.kernel.errors import N_
from parvis.kernel.i18n import _

STATUS_LABELS = {
    "new": N_("New"),
    "acknowledged": N_("Acknowledged"),
    "in_progress": N_("In progress"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
    "rejected": N_("Not taken forward"),
}
REJECT_LABELS = {
    "duplicate": N_("Duplicate of another report"),
    "not_city": N_("Not the city's responsibility"),
    "cannot_fix": N_("Cannot be fixed"),
    "invalid": N_("Not a real problem"),
}


def status_labels() -> dict[str, str]:
    return {k: _(v) for k, v in STATUS_LABELS.items()}


def reject_labels() -> dict[str, str]:
    return {k: _(v) for k, v in REJECT_LABELS.items()}
