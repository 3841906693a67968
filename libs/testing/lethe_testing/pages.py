"""The portal's main pages, for the checks that visit every one of them and for the
screenshots (``tools/screenshots.py``). Add each new page here."""

from __future__ import annotations

from playwright._impl._api_structures import SetCookieParam

from lethe_testing.web import Browser

# name -> path; "{product}" is a product id of the catalogue.
PUBLIC_PAGES: dict[str, str] = {
    "home": "/",
    "product": "/products/{product}",
    "register": "/register",
    "verify-email": "/verify-email?token=example-token",
    "login": "/login",
    "forgot-password": "/forgot-password",
    "reset-password": "/reset-password?token=example-token",
    "cookies": "/cookies",
    "privacy-notice": "/privacy-notice",
    "imprint": "/imprint",
    "contact": "/contact",
    "newsletter": "/newsletter",
    "newsletter-confirm": "/newsletter/confirm?token=example-token",
    "privacy-request": "/privacy/request",
}
# Shown to a person who is logged in (with the admin role, for the staff page).
ACCOUNT_PAGES: dict[str, str] = {
    "account": "/account",
    "password-change": "/account/password",
    "cart": "/cart",
    "orders": "/orders",
    "downloads": "/downloads",
    "privacy-centre": "/privacy",
    "privacy-consents": "/privacy/consents",
    "privacy-erase": "/privacy/erase",
    "privacy-restriction": "/privacy/restriction",
    "privacy-objection": "/privacy/objection",
    "privacy-requests": "/privacy/requests",
    "staff-traffic": "/staff/traffic",
}


def session_cookies(gateway_url: str, email: str, password: str) -> list[SetCookieParam]:
    """A new person signed up and logged in through the JSON API (the mail from the sink's
    Maildir): their cookies, as a browser context takes them (``add_cookies``)."""
    person = Browser(gateway_url)
    try:
        person.sign_up(email, password, name="Page Visitor")
        return [{"name": c.name, "value": c.value or "", "url": gateway_url} for c in person.http.cookies.jar]
    finally:
        person.close()


def first_product(gateway_url: str) -> str:
    import httpx

    return str(httpx.get(f"{gateway_url}/api/v1/products").json()[0]["id"])
