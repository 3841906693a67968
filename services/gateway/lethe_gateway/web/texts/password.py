"""Texts of the password pages: forgotten password, the mailed link, the change in the profile."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "password.forgot.link": "Forgot your password?",
        "password.reauth.label": "Your current password",
        "password.reauth.hint": "Needed if you last entered it more than 10 minutes ago.",
        "password.reauth.needed": "For your security, please enter your current password again: you last "
        "entered it more than 10 minutes ago.",
        "password.reauth.wrong": "This is not your current password.",
        "password.forgot.title": "Forgot your password?",
        "password.forgot.lead": "Enter the e-mail address of your account. We send you a link to set "
        "a new password.",
        "password.forgot.email": "E-mail address",
        "password.forgot.submit": "Send the link",
        "password.forgot.sent": "Please check your mail. If this address belongs to an active account, "
        "we sent a link to set a new password. It works once, for a limited time.",
        "password.reset.title": "Set a new password",
        "password.reset.lead": "Choose a new password. Afterwards every session of your account ends and "
        "you log in with the new password.",
        "password.reset.new": "New password",
        "password.reset.repeat": "Repeat the new password",
        "password.reset.submit": "Set the new password",
        "password.reset.done": "Your new password is set. Every session of your account has ended; "
        "please log in with the new password.",
        "password.reset.missing": "This link is incomplete. Open the link from the mail again.",
        "password.reset.gone": "This link has expired or has already been used. Please ask for a new one.",
        "password.reset.again": "Ask for a new link",
        "password.hint": "At least 10 characters; not your e-mail address and not a common password.",
        "password.field.short": "The password must be at least 10 characters long.",
        "password.field.mismatch": "The two passwords are not the same.",
        "password.change.section": "Password",
        "password.change.lead": "Change the password you log in with.",
        "password.change.link": "Change password",
        "password.change.title": "Change your password",
        "password.change.intro": "Enter your current password and the new one twice. Every other session "
        "of your account ends; you stay logged in here.",
        "password.change.current": "Current password",
        "password.change.submit": "Change password",
        "password.change.done": "Your new password is set. Every other session of your account has ended; "
        "we sent you a notice by mail.",
        "password.change.wrong": "This is not your current password.",
        "password.change.back": "Back to my account",
    },
    "de": {
        "password.forgot.link": "Passwort vergessen?",
        "password.reauth.label": "Ihr aktuelles Passwort",
        "password.reauth.hint": "Nötig, wenn Sie es vor mehr als 10 Minuten zuletzt eingegeben haben.",
        "password.reauth.needed": "Bitte geben Sie zu Ihrer Sicherheit Ihr aktuelles Passwort erneut ein: "
        "Sie haben es vor mehr als 10 Minuten zuletzt eingegeben.",
        "password.reauth.wrong": "Das ist nicht Ihr aktuelles Passwort.",
        "password.forgot.title": "Passwort vergessen?",
        "password.forgot.lead": "Geben Sie die E-Mail-Adresse Ihres Kontos ein. Wir schicken Ihnen einen "
        "Link, mit dem Sie ein neues Passwort festlegen.",
        "password.forgot.email": "E-Mail-Adresse",
        "password.forgot.submit": "Link senden",
        "password.forgot.sent": "Bitte sehen Sie in Ihr Postfach. Wenn diese Adresse zu einem aktiven Konto "
        "gehört, haben wir einen Link für ein neues Passwort geschickt. Er gilt einmal und nur kurze Zeit.",
        "password.reset.title": "Neues Passwort festlegen",
        "password.reset.lead": "Wählen Sie ein neues Passwort. Danach endet jede Sitzung Ihres Kontos, und "
        "Sie melden sich mit dem neuen Passwort an.",
        "password.reset.new": "Neues Passwort",
        "password.reset.repeat": "Neues Passwort wiederholen",
        "password.reset.submit": "Neues Passwort festlegen",
        "password.reset.done": "Ihr neues Passwort gilt. Jede Sitzung Ihres Kontos wurde beendet; bitte "
        "melden Sie sich mit dem neuen Passwort an.",
        "password.reset.missing": "Dieser Link ist unvollständig. Öffnen Sie den Link aus der E-Mail noch "
        "einmal.",
        "password.reset.gone": "Dieser Link ist abgelaufen oder wurde schon benutzt. Bitte fordern Sie einen "
        "neuen an.",
        "password.reset.again": "Neuen Link anfordern",
        "password.hint": "Mindestens 10 Zeichen; nicht Ihre E-Mail-Adresse und kein gängiges Passwort.",
        "password.field.short": "Das Passwort muss mindestens 10 Zeichen lang sein.",
        "password.field.mismatch": "Die beiden Passwörter stimmen nicht überein.",
        "password.change.section": "Passwort",
        "password.change.lead": "Ändern Sie das Passwort, mit dem Sie sich anmelden.",
        "password.change.link": "Passwort ändern",
        "password.change.title": "Passwort ändern",
        "password.change.intro": "Geben Sie Ihr bisheriges Passwort und zweimal das neue ein. Jede andere "
        "Sitzung Ihres Kontos endet; hier bleiben Sie angemeldet.",
        "password.change.current": "Bisheriges Passwort",
        "password.change.submit": "Passwort ändern",
        "password.change.done": "Ihr neues Passwort gilt. Jede andere Sitzung Ihres Kontos wurde beendet; "
        "wir haben Ihnen eine Benachrichtigung geschickt.",
        "password.change.wrong": "Das ist nicht Ihr bisheriges Passwort.",
        "password.change.back": "Zurück zu meinem Konto",
    },
}
