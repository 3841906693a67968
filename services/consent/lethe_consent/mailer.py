"""The mails the consent service sends, in German and English."""

from __future__ import annotations

from datetime import UTC, datetime

from lethe_common.mail import Mail, ServiceMailer

KIND_NAMES = {
    "access": ("Auskunft", "access to your data"),
    "erasure": ("Löschung", "erasure"),
    "restriction": ("Einschränkung der Verarbeitung", "restriction of processing"),
    "restriction_lift": ("Aufhebung der Einschränkung", "lifting the restriction"),
    "objection": ("Widerspruch", "objection"),
}


class Mailer(ServiceMailer):
    def access_ready(self, to: str, request_id: str, token: str, expires_at: datetime) -> bool:
        link = self._link(f"/api/v1/privacy-requests/{request_id}/data-export", token)
        until = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        text = (
            "Guten Tag,\n\nIhre Daten aus allen Diensten stehen bereit: eine JSON-Datei mit "
            "Zweck, Rechtsgrundlage, Speicherdauer und Empfängern. Der Link gilt einmal und bis "
            f"{until}:\n{link}\n\n"
            "Hello,\n\nyour data from every service is ready: one JSON file with the purposes, "
            f"legal grounds, retention and recipients. The link works once, until {until}:\n{link}\n\n"
            f"Vorgang / Request: {request_id}\n"
        )
        return self._send(
            Mail(
                to=to,
                subject="Ihre Daten / Your data",
                text=text,
                headers={"X-Lethe-Mail": "privacy-data-ready"},
            )
        )

    def _follow_link(self, request_id: str, follow: str) -> str:
        return self._link(f"/privacy-requests/{request_id}", follow)

    def confirm_request(
        self, to: str, request_id: str, kind: str, confirm: str, follow: str, ttl_hours: int
    ) -> bool:
        de, en = KIND_NAMES[kind]
        confirm_link = self._link("/privacy-requests/confirm", confirm)
        text = (
            f"Guten Tag,\n\nfür diese E-Mail-Adresse wurde ein Datenschutzantrag gestellt: {de}.\n"
            f"Bitte bestätigen Sie ihn mit diesem Link (gültig {ttl_hours} Stunden):\n"
            f"{confirm_link}\n\n"
            f"Hello,\n\na privacy request was made for this e-mail address: {en}.\n"
            f"Please confirm it with this link (valid for {ttl_hours} hours):\n{confirm_link}\n\n"
            "Code (API: POST /api/v1/privacy-requests/confirm): " + confirm + "\n\n"
            "Den Stand verfolgen / Follow its progress:\n"
            f"{self._follow_link(request_id, follow)}\n\n"
            "Wenn Sie das nicht waren, ignorieren Sie diese Mail; ohne Bestätigung geschieht "
            "nichts. / If this was not you, ignore this mail: nothing happens unless you "
            "confirm.\n"
        )
        return self._send(
            Mail(
                to=to,
                subject="Bitte Datenschutzantrag bestätigen / Please confirm your privacy request",
                text=text,
                headers={"X-Lethe-Mail": "privacy-request-confirmation"},
            )
        )

    def request_opened(self, to: str, request_id: str, kind: str, follow: str) -> bool:
        de, en = KIND_NAMES[kind]
        link = self._follow_link(request_id, follow)
        text = (
            f"Guten Tag,\n\nwir haben Ihren Antrag erhalten: {de}. Den Stand und die Antwort "
            f"jedes Dienstes sehen Sie hier:\n{link}\n\n"
            f"Hello,\n\nwe have received your request: {en}. Its progress and every service's "
            f"answer are here:\n{link}\n\n"
            f"Vorgang / Request: {request_id}\n"
        )
        return self._send(
            Mail(
                to=to,
                subject="Ihr Datenschutzantrag / Your privacy request",
                text=text,
                headers={"X-Lethe-Mail": "privacy-request"},
            )
        )
