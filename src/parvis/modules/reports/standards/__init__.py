"""Codecs for the external standards the reports module speaks (Open311 GeoReport v2)."""
