"""Personal data hooks: each module says how to export and erase what it holds about a person.

The accounts module calls ``export_all`` for a citizen's download and ``erase_all`` for
erasure; modules (and the kernel's own notification outbox) register their part here, so
no module needs to read another module's tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

Exporter = Callable[[Session, int], Any]
Eraser = Callable[[Session, int], None]


@dataclass
class PersonalDataHook:
    name: str
    export: Exporter
    erase: Eraser


_hooks: dict[str, PersonalDataHook] = {}


def register(name: str, export: Exporter, erase: Eraser) -> None:
    _hooks[name] = PersonalDataHook(name, export, erase)


def export_all(session: Session, user_id: int) -> dict[str, Any]:
    return {name: hook.export(session, user_id) for name, hook in sorted(_hooks.items())}


def erase_all(session: Session, user_id: int) -> None:
    for hook in _hooks.values():
        hook.erase(session, user_id)
