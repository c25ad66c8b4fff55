"""A citizen downloads all their data and erases their account; anonymous records stay."""

from __future__ import annotations

from sqlalchemy import select, text

import factories
from factories import PASSWORD
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.accounts.models import User
from web_helpers import csrf_of, sign_in


def test_export_contains_my_profile_and_messages_only(client, db, settings):
    me = factories.citizen(db, settings, "+84912340001")
    factories.citizen(db, settings, "+84912340002")
    sign_in(client, "+84912340001", PASSWORD)
    response = client.get("/account/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["user_id"] == me
    assert data["account"]["profile"]["phone"] == "+84912340001"
    assert data["account"]["sessions"], "the current session is listed"
    dumped = response.text
    assert "+84912340002" not in dumped
    assert "password" not in dumped.lower() or "password_hash" not in dumped


def test_erasure_removes_personal_data_everywhere_and_keeps_anonymous_rows(client, db, settings):
    me = factories.citizen(db, settings, "+84912340003")
    sign_in(client, "+84912340003", PASSWORD)
    token = csrf_of(client, "/account")
    refused = client.post("/account/erase", data={"password": "not-my-password", "csrf_token": token})
    assert refused.status_code == 401
    done = client.post("/account/erase", data={"password": PASSWORD, "csrf_token": token})
    assert done.status_code == 200
    with db.read() as session:
        user = session.get(User, me)
        assert user is not None and user.erased_at is not None  # the anonymous id remains
        assert (user.phone, user.email, user.password_hash, user.display_name) == (None, None, None, "")
        messages = list(session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == me)))
        assert messages and all("+84912340003" not in m.recipient + m.body for m in messages)
        sessions = session.execute(text("SELECT count(*) FROM accounts_sessions WHERE user_id=:u"),
                                   {"u": me}).scalar()
        assert sessions == 0
    assert client.get("/account", follow_redirects=False).status_code == 303
    # the number can be used again for a new account
    again = client.post("/api/v1/auth/signup", json={"identifier": "+84912340003", "password": PASSWORD})
    assert again.status_code == 202


def test_erasure_is_in_the_audit_log_without_personal_data(client, db, settings):
    me = factories.citizen(db, settings, "+84912340004")
    sign_in(client, "+84912340004", PASSWORD)
    client.post("/account/erase", data={"password": PASSWORD, "csrf_token": csrf_of(client, "/account")})
    with db.read() as session:
        row = session.execute(text("SELECT actor_label, action FROM kernel_audit_log "
                                   "WHERE action='accounts.erase'")).one()
    assert row.actor_label == f"citizen #{me}"
