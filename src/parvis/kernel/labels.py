"""Translatable labels of the kernel's own vocabularies, for pages."""

from __future__ import annotations

from parvis.kernel.errors import N_
from parvis.kernel.i18n import _

ROLE_LABELS = {
    "citizen": N_("Citizen"),
    "agent": N_("Agent"),
    "supervisor": N_("Supervisor"),
    "admin": N_("Administrator"),
}
CHANNEL_LABELS = {"sms": N_("SMS"), "email": N_("E-mail"), "push": N_("Push notification")}
STATUS_LABELS = {
    "queued": N_("Queued"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
}


def translated(labels: dict[str, str]) -> dict[str, str]:
    return {key: _(value) for key, value in labels.items()}
