"""Citizen reports: the reference module. Report a problem, route it, follow it to resolution;
Open311 GeoReport v2 at /open311/v2/."""

from parvis.modules.reports.jobs import register
from parvis.modules.reports.queries import erase_reporter, export_reports

__all__ = ["erase_reporter", "export_reports", "register"]
