"""Crisis alerts (CAP 1.2): compose, approve and deliver geo-targeted warnings; CAP documents at
``/cap/alerts/{identifier}.xml`` and the Atom feed of active alerts at ``/cap/alerts.atom``.

``standards/`` holds the CAP 1.2 codec, XML signatures and the Atom feed; ``area`` and ``rules``
the pure geometry and time rules; ``targeting`` who an alert reaches and the fan-out. Other
modules may use only what ``__all__`` lists.
"""

from parvis.modules.alerts.jobs import register
from parvis.modules.alerts.queries import erase_person, export_person

__all__ = ["erase_person", "export_person", "register"]
