"""Citizens sign up with a phone number and a code, sign in, reset their password."""

from __future__ import annotations

from sqlalchemy import select

import factories
from factories import PASSWORD, last_code
from parvis.kernel.notify.models import OutboxMessage
from web_helpers import csrf_of, sign_in


def _last_message(db, recipient: str) -> OutboxMessage:
    with db.read() as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient)
                               .order_by(OutboxMessage.id.desc())).first()


def test_sign_up_with_a_local_phone_number_and_the_sms_code(client, db):
    token = csrf_of(client, "/signup")
    response = client.post("/signup", data={"identifier": "0912 345 678", "password": PASSWORD,
                                            "display_name": "Lan", "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signup/confirm?identifier=%2B84912345678"
    sms = _last_message(db, "+84912345678")
    assert sms.channel == "sms" and sms.purpose == "accounts.signup"
    page = client.get(response.headers["location"])
    assert "+84 •••• 678" in page.text
    wrong = client.post("/signup/confirm", data={"identifier": "+84912345678", "code": "000000",
                                                 "csrf_token": token}, headers={"Accept-Language": "en"})
    assert wrong.status_code == 422
    assert "This code is wrong or has expired." in wrong.text
    ok = client.post("/signup/confirm", data={"identifier": "+84912345678",
                                              "code": last_code(sms.body), "csrf_token": token},
                     follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/account")
    assert "parvis_session" in ok.cookies or "parvis_session" in client.cookies
    account = client.get("/account")
    assert account.status_code == 200 and "+84912345678" in account.text


def test_sign_up_with_an_email_sends_the_code_by_email(client, db):
    response = client.post("/api/v1/auth/signup", json={"identifier": "Lan@Example.org",
                                                         "password": PASSWORD})
    assert response.status_code == 202 and response.json()["channel"] == "email"
    mail = _last_message(db, "lan@example.org")
    assert mail.channel == "email"
    confirmed = client.post("/api/v1/auth/confirm", json={"identifier": "lan@example.org",
                                                          "code": last_code(mail.body)})
    assert confirmed.status_code == 200
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {confirmed.json()['access_token']}"})
    assert me.json()["email"] == "lan@example.org" and me.json()["role"] == "citizen"


def test_invalid_phone_number_gets_a_translated_error(client):
    token = csrf_of(client, "/signup")
    response = client.post("/signup", data={"identifier": "12", "password": PASSWORD,
                                            "csrf_token": token},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert "This phone number is not valid." in response.text
    api = client.post("/api/v1/auth/signup", json={"identifier": "0000", "password": PASSWORD},
                      headers={"Accept-Language": "en"})
    assert api.status_code == 422
    assert api.json()["type"] == "https://parvis.city/problems/invalid-phone"


def test_a_citizen_cannot_make_themselves_admin(client, db, settings):
    response = client.post("/api/v1/auth/signup", json={"identifier": "+84912345670",
                                                         "password": PASSWORD, "role": "admin"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "role"
    with db.read() as session:
        assert session.scalar(select(OutboxMessage.id)) is None  # nothing was written
    factories.citizen(db, settings, "+84912345671")
    token = client.post("/api/v1/auth/token", data={"username": "+84912345671",
                                                    "password": PASSWORD}).json()["access_token"]
    patched = client.patch("/api/v1/me", json={"role": "admin"},
                           headers={"Authorization": f"Bearer {token}"})
    assert patched.status_code == 422
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "citizen"


def test_unknown_user_and_wrong_password_get_the_same_answer(client, db, settings):
    factories.citizen(db, settings, "+84912345672")
    unknown = client.post("/api/v1/auth/token", data={"username": "+84912999999", "password": "x" * 9})
    wrong = client.post("/api/v1/auth/token", data={"username": "+84912345672", "password": "x" * 9})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == {**wrong.json(), "instance": unknown.json()["instance"]}


def test_sign_in_is_throttled_per_account(client, db, settings):
    factories.citizen(db, settings, "+84912345673")
    for _ in range(settings.login_max_failures):
        assert client.post("/api/v1/auth/token", data={"username": "+84912345673",
                                                       "password": "wrong-pass"}).status_code == 401
    blocked = client.post("/api/v1/auth/token", data={"username": "+84912345673", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == str(settings.login_window_seconds)
    # another account from another address is not affected
    factories.citizen(db, settings, "+84912345674")
    assert client.post("/api/v1/auth/token", data={"username": "+84912345674",
                                                   "password": PASSWORD}).status_code == 200


def test_sign_in_is_throttled_per_address(client, db, settings):
    for n in range(settings.login_max_failures * 4):
        client.post("/api/v1/auth/token", data={"username": f"+8491200{n:04d}", "password": "nope-nope"})
    factories.citizen(db, settings, "+84912345675")
    response = client.post("/api/v1/auth/token", data={"username": "+84912345675", "password": PASSWORD})
    assert response.status_code == 429


def test_password_reset_with_code_signs_out_everywhere(client, db, settings):
    factories.citizen(db, settings, "+84912345676")
    sign_in(client, "+84912345676", PASSWORD)
    token = csrf_of(client, "/password/forgot")
    asked = client.post("/password/forgot", data={"identifier": "+84912345676", "csrf_token": token},
                        follow_redirects=False)
    assert asked.status_code == 303
    code = last_code(_last_message(db, "+84912345676").body)
    done = client.post("/password/reset", data={"identifier": "+84912345676", "code": code,
                                                "password": "a-new-password", "csrf_token": token})
    assert done.status_code == 200
    assert client.get("/account", follow_redirects=False).status_code == 303  # old session gone
    sign_in(client, "+84912345676", "a-new-password")
    assert client.get("/account").status_code == 200


def test_reset_for_unknown_number_answers_the_same_and_sends_nothing(client, db):
    token = csrf_of(client, "/password/forgot")
    response = client.post("/password/forgot", data={"identifier": "+84912000777", "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    assert _last_message(db, "+84912000777") is None


def test_sign_out_ends_the_session(client, db, settings):
    factories.citizen(db, settings, "+84912345677")
    sign_in(client, "+84912345677", PASSWORD)
    token = csrf_of(client, "/account")
    client.post("/signout", data={"csrf_token": token})
    assert client.get("/account", follow_redirects=False).headers["location"].startswith("/signin")


def test_forms_without_csrf_token_are_refused(client, db, settings):
    factories.citizen(db, settings, "+84912345679")
    client.get("/signin")
    response = client.post("/signin", data={"identifier": "+84912345679", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/account", follow_redirects=False).status_code == 303  # not signed in


def test_session_cookie_is_httponly_and_samesite(client, db, settings):
    factories.citizen(db, settings, "+84912345680")
    token = csrf_of(client)
    response = client.post("/signin", data={"identifier": "+84912345680", "password": PASSWORD,
                                            "csrf_token": token}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "parvis_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
