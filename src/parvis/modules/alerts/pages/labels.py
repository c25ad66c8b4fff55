"""Words the alerts pages show for CAP's codes and Parvis's states, translated per request."""

from __future__ import annotations

from parvis.kernel.errors import N_
from parvis.kernel.i18n import _

CATEGORIES = {
    "Geo": N_("Geophysical (earthquake, landslide)"), "Met": N_("Weather (flood, storm, heat)"),
    "Safety": N_("General safety"), "Security": N_("Security (law enforcement)"),
    "Rescue": N_("Rescue and recovery"), "Fire": N_("Fire"), "Health": N_("Health (medical, public health)"),
    "Env": N_("Environment (pollution)"), "Transport": N_("Transport"),
    "Infra": N_("Infrastructure (water, power, telecoms)"),
    "CBRNE": N_("Chemical, biological, nuclear, explosive"),
    "Other": N_("Other"),
}
RESPONSE_TYPES = {
    "Shelter": N_("Take shelter"), "Evacuate": N_("Evacuate"), "Prepare": N_("Prepare"),
    "Execute": N_("Act now as instructed"), "Avoid": N_("Avoid the area"), "Monitor": N_("Stay informed"),
    "Assess": N_("Assess the situation"), "AllClear": N_("All clear"), "None": N_("No action"),
}
URGENCIES = {
    "Immediate": N_("Immediate: act now"), "Expected": N_("Expected: act within the hour"),
    "Future": N_("Future: act soon"), "Past": N_("Past: no longer needed"), "Unknown": N_("Unknown"),
}
SEVERITIES = {
    "Extreme": N_("Extreme"), "Severe": N_("Severe"), "Moderate": N_("Moderate"), "Minor": N_("Minor"),
    "Unknown": N_("Unknown"),
}
CERTAINTIES = {
    "Observed": N_("Observed"), "Likely": N_("Likely"), "Possible": N_("Possible"),
    "Unlikely": N_("Unlikely"), "Unknown": N_("Unknown"),
}
STATUSES = {
    "Actual": N_("Actual alert: everyone subscribed in the area"),
    "Exercise": N_("Exercise: opted-in testers only"),
    "Test": N_("Technical test: opted-in testers only"),
}
SHORT_STATUSES = {"Actual": N_("Actual"), "Exercise": N_("Exercise"), "Test": N_("Test")}
MSG_TYPES = {"Alert": N_("Alert"), "Update": N_("Update"), "Cancel": N_("Cancellation")}
CHANNELS = {"sms": N_("SMS"), "email": N_("E-mail"), "push": N_("Push notification")}
DELIVERY_STATES = {
    "queued": N_("Queued"), "sent": N_("Sent"), "delivered": N_("Delivered"), "failed": N_("Failed"),
    "cancelled": N_("Withdrawn"),
}
GROUPS = {
    "draft": N_("Drafts to complete"), "ready": N_("Awaiting approval"), "active": N_("Active"),
    "expired": N_("Expired"), "replaced": N_("Replaced by an update"), "cancelled": N_("Cancelled"),
}


def tr(labels: dict[str, str]) -> dict[str, str]:
    return {key: _(value) for key, value in labels.items()}


def all_labels() -> dict[str, dict[str, str]]:
    """Every table above, translated, for a template."""
    return {"categories": tr(CATEGORIES), "response_types": tr(RESPONSE_TYPES), "urgencies": tr(URGENCIES),
            "severities": tr(SEVERITIES), "certainties": tr(CERTAINTIES), "statuses": tr(STATUSES),
            "short_statuses": tr(SHORT_STATUSES), "msg_types": tr(MSG_TYPES), "channels": tr(CHANNELS),
            "delivery_states": tr(DELIVERY_STATES), "groups": tr(GROUPS)}
