"""Helpers for in-process HTTP tests: CSRF tokens and signing in through the real form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    """The CSRF token a page's forms carry (loading the page sets the cookie)."""
    match = CSRF_RE.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: TestClient, identifier: str, password: str) -> None:
    token = csrf_of(client)
    response = client.post("/signin", data={"identifier": identifier, "password": password,
                                             "csrf_token": token, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[:500]


def bearer(client, username: str, password: str = "correct-horse-42") -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
