"""The mails the newsletter sends: the double opt-in mail and campaign messages.

Every campaign message carries the unsubscribe link in its body and in the
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers (RFC 2369, RFC
8058), so a mail client can offer one-click unsubscribing. Its Message-ID
is derived from campaign and subscriber, so the same message sent again
would be recognisably the same. A test send (staff's trial of a draft, to their own
address) is the same message marked as a test, without a working unsubscribe link.
"""

from __future__ import annotations

import html
from datetime import timedelta

from lethe_common.mail import Mail
from lethe_common.mongo import Document
from lethe_newsletter.links import Links

CONFIRMATION_KIND = "newsletter-confirmation"
CAMPAIGN_KIND = "newsletter-campaign"
CAMPAIGN_TEST_KIND = "newsletter-campaign-test"
TEST_MARK = "[TEST]"
TEST_NOTE = (
    "TEST: Probeversand dieser Kampagne an Sie allein; der Abmeldelink darin funktioniert nicht. / "
    "TEST: a trial send of this campaign to you alone; its unsubscribe link does not work."
)


def _greeting(name: str) -> tuple[str, str]:
    return (f"Hallo {name},", f"Hello {name},") if name else ("Hallo,", "Hello,")


class Messages:
    def __init__(self, links: Links) -> None:
        self._links = links

    def confirmation(self, to: str, token: str, ttl: timedelta) -> Mail:
        """The double opt-in link. It greets no one: the address is not confirmed yet, and a
        name typed by whoever subscribed it must not reach its owner (issue 18)."""
        link = self._links.confirmation_url(token)
        hours = int(ttl.total_seconds() // 3600)
        de, en = _greeting("")
        text = (
            f"{de}\n\nbitte bestätigen Sie Ihre Anmeldung zum Newsletter mit diesem Link "
            f"(gültig {hours} Stunden):\n{link}\n\n"
            f"{en}\n\nplease confirm your newsletter subscription with this link "
            f"(valid for {hours} hours):\n{link}\n\n"
            f"Code (API: POST /api/v1/newsletter/confirm): {token}\n\n"
            "Wenn Sie das nicht waren, ignorieren Sie diese Mail: ohne Bestätigung erhalten Sie "
            "nichts von uns. / If this was not you, ignore this mail: without confirmation you "
            "get nothing from us.\n"
        )
        return Mail(
            to=to,
            subject="Bitte Newsletter-Anmeldung bestätigen / Please confirm your newsletter subscription",
            text=text,
            headers={"X-Lethe-Mail": CONFIRMATION_KIND},
        )

    def campaign(self, campaign: Document, subscriber: Document) -> Mail:
        link = self._links.unsubscribe_page_url(subscriber["_id"])
        one_click = self._links.unsubscribe_url(subscriber["_id"])
        name = subscriber.get("name", "") if campaign.get("greeting") else ""
        text, body_html = _bodies(campaign, name, link)
        return Mail(
            to=subscriber["email"],
            subject=campaign["subject"],
            text=text,
            html=body_html,
            headers={
                "Message-ID": f"<{campaign['_id']}.{subscriber['_id']}@lethe.invalid>",
                "List-Unsubscribe": f"<{one_click}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Id": "Lethe newsletter <newsletter.lethe.invalid>",
                "Precedence": "bulk",
                "X-Lethe-Mail": CAMPAIGN_KIND,
                "X-Lethe-Campaign": campaign["_id"],
            },
        )

    def campaign_test(self, campaign: Document, to: str) -> Mail:
        """The campaign as a subscriber (one who gave no name) gets it, to ``to``, marked as
        a test: "[TEST]" before the subject, a note above the text, and an unsubscribe link
        whose token is no token (the page says it is not valid). No List-Unsubscribe
        headers (there is nothing to unsubscribe from) and a Message-ID of its own."""
        text, body_html = _bodies(campaign, "", self._links.unsubscribe_page_url_of_a_test())
        return Mail(
            to=to,
            subject=f"{TEST_MARK} {campaign['subject']}",
            text=f"{TEST_NOTE}\n\n{text}",
            html=None
            if body_html is None
            else f"<p><strong>{html.escape(TEST_NOTE)}</strong></p>\n{body_html}",
            headers={"X-Lethe-Mail": CAMPAIGN_TEST_KIND, "X-Lethe-Campaign": campaign["_id"]},
        )


def _bodies(campaign: Document, name: str, link: str) -> tuple[str, str | None]:
    """A campaign message's text and HTML (None without an HTML body), greeting ``name``
    if the campaign greets, with the unsubscribe ``link`` at the end of each."""
    text = campaign["text_body"]
    if campaign.get("greeting"):
        de, en = _greeting(name)
        text = f"{de} / {en}\n\n{text}"
    text += "\n\n-- \nNewsletter abbestellen / Unsubscribe:\n" + link + "\n"
    body_html = None
    if campaign.get("html_body"):
        greeting = ""
        if campaign.get("greeting"):
            de, en = _greeting(name)
            greeting = f"<p>{html.escape(de)} / {html.escape(en)}</p>\n"
        body_html = (
            f'{greeting}{campaign["html_body"]}\n<hr>\n<p><a href="'
            f'{html.escape(link, quote=True)}">Newsletter abbestellen / '
            "Unsubscribe</a></p>\n"
        )
    return text, body_html
