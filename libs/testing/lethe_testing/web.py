"""A web client of the gateway, as the portal's pages are."""

from __future__ import annotations

import re
from typing import Any

import httpx

from lethe_testing.maildir import token_in, wait_for_mail


class Browser:
    """A web client of the gateway that keeps cookies and sends the CSRF header, as the
    portal's pages do."""

    def __init__(self, base_url: str, **headers: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url, timeout=30, headers=headers)

    def _csrf(self) -> dict[str, str]:
        token = self.http.cookies.get("lethe_csrf")
        return {"X-CSRF-Token": token} if token else {}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self._csrf(), **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def current_version(self, purpose: str) -> str:
        texts = self.get("/api/v1/consent-texts").json()
        return str(next(t["version"] for t in texts if t["purpose"] == purpose))

    def sign_up(self, email: str, password: str, name: str = "Ada Lovelace") -> dict[str, Any]:
        """Register, verify from the Maildir and log in; returns the profile."""
        registered = self.post(
            "/api/v1/accounts",
            json={
                "email": email,
                "password": password,
                "name": name,
                "account_consent_version": self.current_version("account"),
            },
        )
        assert registered.status_code == 201, registered.text
        token = token_in(wait_for_mail(email, "verification"))
        verified = self.post("/api/v1/accounts/verify", json={"token": token, "password": password})
        assert verified.status_code == 200, verified.text
        logged_in = self.post("/api/v1/session", json={"email": email, "password": password})
        assert logged_in.status_code == 200, logged_in.text
        return dict(logged_in.json())

    def close(self) -> None:
        self.http.close()


def csrf_of(page: httpx.Response) -> str:
    """The CSRF field of the first form on a portal page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no form with a CSRF field"
    return found[1]


def member_on_pages(base_url: str, email: str, password: str, name: str) -> httpx.Client:
    """A person registered, activated (the mail's link from the Maildir) and logged in
    through the portal's pages, as a browser without JavaScript does it; redirects are not
    followed, so each answer can be looked at."""
    browser = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
    form = browser.get("/register")
    version = re.search(r'name="consent_version" value="([^"]+)"', form.text)
    assert version, "the register page shows the account text's version"
    registered = browser.post(
        "/register",
        data={
            "csrf_token": csrf_of(form),
            "email": email,
            "name": name,
            "password": password,
            "consent_version": version[1],
            "consent": "yes",
        },
    )
    assert registered.status_code == 200, registered.text
    token = token_in(wait_for_mail(email, "verification"))
    landing = browser.get(f"/verify-email?token={token}")
    verified = browser.post(
        "/verify-email", data={"csrf_token": csrf_of(landing), "token": token, "password": password}
    )
    assert verified.status_code == 200, verified.text
    entered = browser.post(
        "/login",
        data={
            "csrf_token": csrf_of(browser.get("/login")),
            "email": email,
            "password": password,
            "next": "/",
        },
    )
    assert entered.status_code == 303, entered.text
    return browser
