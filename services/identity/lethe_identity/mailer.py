"""The mails the identity service sends, in German and English.

A mail that cannot be sent is logged (without the address) and reported as
False; the record it belongs to is already stored, and the person can ask
for the mail again (``ResendVerification``) or staff can decide again.
"""

from __future__ import annotations

from lethe_common.mail import Mail, ServiceMailer


class Mailer(ServiceMailer):
    def verification(self, to: str, name: str, token: str, ttl_hours: float, change: bool = False) -> bool:
        link = self._link("/verify-email", token)
        what_de = "Ihre neue E-Mail-Adresse" if change else "Ihre E-Mail-Adresse"
        what_en = "your new e-mail address" if change else "your e-mail address"
        text = (
            f"Hallo {name},\n\nbitte bestätigen Sie {what_de} mit diesem Link:\n{link}\n"
            f"Der Link gilt {ttl_hours:g} Stunden und nur einmal.\n\n"
            f"Hello {name},\n\nplease confirm {what_en} with this link:\n{link}\n"
            f"The link works once, for {ttl_hours:g} hours.\n\n"
            "Code (API: POST /api/v1/accounts/verify): " + token + "\n\n"
            "Wenn Sie das nicht waren, ignorieren Sie diese Mail. / "
            "If this was not you, ignore this mail.\n"
        )
        subject = "Bitte E-Mail-Adresse bestätigen / Please confirm your e-mail address"
        return self._send(Mail(to=to, subject=subject, text=text, headers={"X-Lethe-Mail": "verification"}))

    def portal_decision(self, to: str, name: str, approved: bool, organisation: str, reason: str) -> bool:
        if approved:
            subject = "Portalzugang freigeschaltet / Portal access approved"
            body = (
                f"Hallo {name},\n\nIhr Zugang zum Kundenportal für {organisation} ist "
                f"freigeschaltet.\n\nHello {name},\n\nyour access to the customer portal for "
                f"{organisation} has been approved.\n"
            )
        else:
            subject = "Portalzugang abgelehnt / Portal access declined"
            why = f"\nGrund / Reason: {reason}\n" if reason else ""
            body = (
                f"Hallo {name},\n\nIhr Antrag auf Zugang zum Kundenportal wurde abgelehnt.\n"
                f"\nHello {name},\n\nyour request for access to the customer portal was "
                f"declined.\n{why}"
            )
        return self._send(Mail(to=to, subject=subject, text=body, headers={"X-Lethe-Mail": "portal-access"}))
