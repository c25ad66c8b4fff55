"""Glue between the app and the notifications kernel (kept apart so app.py stays short)."""

from __future__ import annotations

from fastapi import APIRouter

from parvis.kernel import notify
from parvis.kernel.jobs import JobRegistry
from parvis.settings import Settings


def register_jobs(registry: JobRegistry, settings: Settings) -> None:
    notify.register(registry, settings)


def register_privacy() -> None:
    notify.register_privacy()


def router() -> APIRouter:
    return notify.router
