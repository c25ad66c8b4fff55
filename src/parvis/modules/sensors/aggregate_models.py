"""Hourly and daily aggregates of observations, kept after the raw observations expire."""

from __future__ import annotations
