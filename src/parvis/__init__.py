"""Parvis: an open-source smart-city platform for local authorities."""

__version__ = "0.1.0"
