"""The sensor hub's NGSI-LD subscriptions and the notifications waiting to be sent."""

from __future__ import annotations
