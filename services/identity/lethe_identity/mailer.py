"""The mails the identity service sends, in German and English.

A mail that cannot be sent is logged (without the address) and reported as
False; the record it belongs to is already stored, and the person can ask
for the mail again (``ResendVerification``) or staff can decide again.
"""

from __future__ import annotations

from datetime import datetime

from lethe_common.mail import Mail, ServiceMailer


class Mailer(ServiceMailer):
    def verification(self, to: str, token: str, ttl_hours: float, change: bool = False) -> bool:
        """The link that confirms an address. It names no one: the address is not verified
        yet, so the name typed with it may be anyone's (issue 18)."""
        link = self._link("/verify-email", token)
        what_de = "Ihre neue E-Mail-Adresse" if change else "Ihre E-Mail-Adresse"
        what_en = "your new e-mail address" if change else "your e-mail address"
        text = (
            f"Hallo,\n\nbitte bestätigen Sie {what_de} mit diesem Link:\n{link}\n"
            f"Der Link gilt {ttl_hours:g} Stunden und nur einmal.\n\n"
            f"Hello,\n\nplease confirm {what_en} with this link:\n{link}\n"
            f"The link works once, for {ttl_hours:g} hours.\n\n"
            "Code (API: POST /api/v1/accounts/verify): " + token + "\n\n"
            "Wenn Sie das nicht waren, ignorieren Sie diese Mail. / "
            "If this was not you, ignore this mail.\n"
        )
        subject = "Bitte E-Mail-Adresse bestätigen / Please confirm your e-mail address"
        return self._send(Mail(to=to, subject=subject, text=text, headers={"X-Lethe-Mail": "verification"}))

    def address_in_use(self, to: str, change: bool) -> bool:
        """The notice to an address's holder that someone tried to register it (``change``:
        to move their account to it). No link, no name, nothing of the other person."""
        login, forgot = f"{self._public_url}/login", f"{self._public_url}/forgot-password"
        if change:
            tried_de = "jemand hat versucht, Ihre E-Mail-Adresse für ein anderes Konto bei uns einzutragen"
            tried_en = "someone tried to change the address of another account with us to yours"
        else:
            tried_de = "jemand hat versucht, mit Ihrer E-Mail-Adresse ein Konto bei uns zu eröffnen"
            tried_en = "someone tried to register an account with us with your e-mail address"
        text = (
            f"Hallo,\n\n{tried_de}. Ihre Adresse gehört schon zu einem Konto; geändert hat sich "
            "nichts, und ohne Zugang zu Ihrem Postfach kann niemand sie verwenden.\n"
            f"Wenn Sie das waren: melden Sie sich an ({login}) oder legen Sie ein neues Passwort "
            f"fest ({forgot}). Haben Sie Ihr Konto noch nicht aktiviert, nutzen Sie den Link aus "
            "unserer ersten Mail.\nWenn nicht, ignorieren Sie diese Mail.\n\n"
            f"Hello,\n\n{tried_en}. Your address already belongs to an account; nothing has "
            "changed, and no one can use it without access to your mailbox.\n"
            f"If this was you: log in ({login}) or set a new password ({forgot}). If you have "
            "not activated your account yet, use the link from our first mail.\n"
            "If not, ignore this mail.\n"
        )
        subject = "Ihre E-Mail-Adresse wird schon verwendet / Your e-mail address is already in use"
        return self._send(Mail(to=to, subject=subject, text=text, headers={"X-Lethe-Mail": "address-in-use"}))

    def password_reset(self, to: str, token: str, ttl_minutes: float) -> bool:
        """The link to set a new password. It names no one: the request named only an address."""
        link = self._link("/reset-password", token)
        text = (
            "Hallo,\n\njemand, hoffentlich Sie, möchte für Ihr Konto ein neues Passwort festlegen. "
            f"Das geht mit diesem Link:\n{link}\n"
            f"Der Link gilt {ttl_minutes:g} Minuten und nur einmal. Danach endet jede Sitzung Ihres "
            "Kontos; Sie melden sich mit dem neuen Passwort wieder an.\n"
            "Wenn Sie das nicht waren, ignorieren Sie diese Mail: Ihr Passwort bleibt, wie es ist.\n\n"
            "Hello,\n\nsomeone, hopefully you, asked to set a new password for your account. "
            f"Use this link:\n{link}\n"
            f"The link works once, for {ttl_minutes:g} minutes. Afterwards every session of your "
            "account ends; you log in again with the new password.\n"
            "If this was not you, ignore this mail: your password stays as it is.\n"
        )
        subject = "Neues Passwort festlegen / Set a new password"
        return self._send(Mail(to=to, subject=subject, text=text, headers={"X-Lethe-Mail": "password-reset"}))

    def password_changed(self, to: str, at: datetime, reset: bool) -> bool:
        """The notice that the password changed: when and how, never the password."""
        when = at.strftime("%Y-%m-%d %H:%M UTC")
        forgot = f"{self._public_url}/forgot-password"
        how_de = "mit dem Link aus unserer E-Mail" if reset else "in Ihrem Profil"
        how_en = "with the link from our mail" if reset else "in your profile"
        ended_de = (
            "Jede Sitzung Ihres Kontos wurde beendet."
            if reset
            else ("Jede andere Sitzung Ihres Kontos wurde beendet.")
        )
        ended_en = (
            "Every session of your account has ended."
            if reset
            else ("Every other session of your account has ended.")
        )
        text = (
            f"Hallo,\n\ndas Passwort Ihres Kontos wurde am {when} {how_de} geändert. {ended_de}\n"
            "Wenn Sie das nicht waren, legen Sie sofort ein neues Passwort fest und schreiben Sie "
            f"uns:\n{forgot}\n\n"
            f"Hello,\n\nthe password of your account was changed on {when} {how_en}. {ended_en}\n"
            f"If this was not you, set a new password at once and write to us:\n{forgot}\n"
        )
        subject = "Ihr Passwort wurde geändert / Your password was changed"
        return self._send(
            Mail(to=to, subject=subject, text=text, headers={"X-Lethe-Mail": "password-changed"})
        )

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
