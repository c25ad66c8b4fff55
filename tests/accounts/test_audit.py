"""Every agent and admin change lands in an append-only audit log that admins can read."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

import factories
from factories import PASSWORD


def _token(client, username):
    return client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD}
                       ).json()["access_token"]


def test_admin_changes_are_audited_with_who_what_and_where(client, db, settings):
    factories.staff(db, settings, "admin@example.org", role="admin")
    bearer = {"Authorization": f"Bearer {_token(client, 'admin@example.org')}"}
    created = client.post("/api/v1/departments", json={"code": "water", "name": "Eau", "kind": "water"},
                          headers=bearer)
    assert created.status_code == 201
    log = client.get("/api/v1/audit", headers=bearer).json()
    entry = next(e for e in log["items"] if e["action"] == "city.department.create")
    assert entry["actor_label"] == "admin"
    assert entry["actor_role"] == "admin"
    assert entry["object_type"] == "department" and entry["object_id"] == str(created.json()["id"])
    assert entry["ip"] == "testclient"
    assert entry["changes"]["name"] == "Eau"


def test_audit_log_refuses_update_and_delete(db, settings):
    factories.department(db)
    for statement in ("UPDATE kernel_audit_log SET action='x'", "DELETE FROM kernel_audit_log"):
        with pytest.raises(DatabaseError), db.transaction() as session:
            session.execute(text(statement))
    with db.read() as session:
        kept = session.execute(text("SELECT action FROM kernel_audit_log")).scalar()
    assert kept == "city.department.create"


def test_audit_page_is_for_admins_only(client, db, settings):
    dep = factories.department(db)
    factories.staff(db, settings, "agent@example.org", role="agent", department_ids=[dep])
    from web_helpers import sign_in

    sign_in(client, "agent@example.org", PASSWORD)
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/api/v1/audit").status_code == 403
