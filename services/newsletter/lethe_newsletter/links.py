"""The newsletter's two kinds of link, signed so nobody can forge or alter them.

- Confirmation: subscriber id, the start of their pending period and an expiry.
  It confirms that one pending period: once confirmed, it answers with the
  confirmed subscription again (a double click), and a new request starts a
  new period it does not name.
- Unsubscribe: the subscriber id alone (derived from the address). It never
  expires (RFC 8058 clients may use it years later) and ends whatever
  subscription the address has; with none, unsubscribing has nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from lethe_common.errors import InvalidArgument
from lethe_common.signing import BadSignature, sign, verify

CONFIRM = "newsletter-confirm"
UNSUBSCRIBE = "newsletter-unsubscribe"
INVALID_CONFIRMATION = "this confirmation link is not valid; please use the link from the mail"
INVALID_UNSUBSCRIBE = "this unsubscribe link is not valid; please use the link from the newsletter"


@dataclass(frozen=True)
class Confirmation:
    subscriber_id: str
    pending_since: int
    expires_at: datetime


class Links:
    def __init__(self, key: bytes, public_url: str) -> None:
        self._key = key
        self._public_url = public_url

    # -- confirmation ---------------------------------------------------------------------
    def confirmation_token(
        self, subscriber_id: str, pending_since: int, now: datetime, ttl: timedelta
    ) -> str:
        expires = int((now + ttl).timestamp())
        return sign(self._key, CONFIRM, (subscriber_id, str(pending_since), str(expires)))

    def confirmation(self, token: str, now: datetime) -> Confirmation:
        """What a confirmation token says, once its signature and expiry are checked."""
        try:
            subscriber_id, pending_since, expires = verify(self._key, CONFIRM, token, 3)
        except BadSignature:
            raise InvalidArgument(INVALID_CONFIRMATION) from None
        if not (pending_since.isdigit() and expires.isdigit()):
            raise InvalidArgument(INVALID_CONFIRMATION)
        expires_at = datetime.fromtimestamp(int(expires), UTC)
        if expires_at <= now:
            raise InvalidArgument(
                "this confirmation link has expired; please subscribe again to get a new one",
                reason="expired",
            )
        return Confirmation(subscriber_id, int(pending_since), expires_at)

    def confirmation_url(self, token: str) -> str:
        return f"{self._public_url}/newsletter/confirm?token={quote(token)}"

    # -- unsubscribe ----------------------------------------------------------------------
    def unsubscribe_token(self, subscriber_id: str) -> str:
        return sign(self._key, UNSUBSCRIBE, (subscriber_id,))

    def unsubscribed_id(self, token: str) -> str:
        try:
            (subscriber_id,) = verify(self._key, UNSUBSCRIBE, token, 1)
        except BadSignature:
            raise InvalidArgument(INVALID_UNSUBSCRIBE) from None
        return subscriber_id

    def unsubscribe_url(self, subscriber_id: str) -> str:
        """The List-Unsubscribe header's address: a POST there unsubscribes at once, with
        no form and no cookie (RFC 8058 one-click); a GET shows a page that asks."""
        token = quote(self.unsubscribe_token(subscriber_id))
        return f"{self._public_url}/api/v1/newsletter/unsubscribe?token={token}"

    def unsubscribe_page_url(self, subscriber_id: str) -> str:
        """The link in every newsletter's text: the portal's page, which asks for the click
        in the reader's language."""
        token = quote(self.unsubscribe_token(subscriber_id))
        return f"{self._public_url}/newsletter/unsubscribe?token={token}"

    def unsubscribe_page_url_of_a_test(self) -> str:
        """Where a test send's unsubscribe link points: the same page, with a token that is
        none (the page answers that the link is not valid); no subscriber to unsubscribe."""
        return f"{self._public_url}/newsletter/unsubscribe?token=test-send-no-token"
