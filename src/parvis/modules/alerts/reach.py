"""Who an alert will reach, counted for its preview (the draft's page and ``GET .../preview``).

The same resolution as the fan-out (``targeting``), so the preview says what approval will do:
people and subscriptions per channel, one message per phone and address; a Cancel counts the
people earlier messages reached; an Update also counts the people its follow-up will tell that
the alert no longer concerns their place (``followup.left_behind``). For a city-wide alert with a
million subscribers this takes seconds: the page loads the counts after itself (htmx).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from parvis.kernel.db import utcnow
from parvis.modules.alerts import followup, targeting
from parvis.modules.alerts.models import CHANNELS, Alert
from parvis.modules.alerts.targeting import Recipient


def _per_channel(people: dict[str, Recipient]) -> dict[str, dict[str, int]]:
    return {c: {"people": sum(c in p.channels for p in people.values()),
                "subscriptions": sum(p.subscriptions.get(c, 0) for p in people.values())}
            for c in CHANNELS}


def count(session: Session, alert: Alert) -> dict[str, Any]:
    """``people`` and ``channels`` (people and subscriptions per channel) the alert reaches;
    ``follow_up``: for an Update, the people (in all and per channel) told it no longer concerns
    their place (None for other messages); ``counted_at``: when (UTC)."""
    cmap = targeting.city_map(session)
    follow_up = None
    if alert.msg_type == "Cancel":
        people = targeting.reached_before(session, alert)
    else:
        people = targeting.resolve(session, alert, cmap)
        if alert.msg_type == "Update":
            left = followup.left_behind(session, alert, cmap, still=people)
            follow_up = {"people": len(left),
                         "channels": {c: n["people"] for c, n in _per_channel(left).items()}}
    return {"people": len(people), "channels": _per_channel(people), "follow_up": follow_up,
            "counted_at": utcnow().isoformat(timespec="seconds")}
