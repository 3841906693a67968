"""Texts of the newsletter pages: subscribe, confirm, unsubscribe."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "newsletter.nav": "Newsletter",
        "newsletter.title": "Newsletter",
        "newsletter.lead": "News about our products, updates and events by e-mail. We send it only "
        "after you confirm your address with the link we mail you, and every issue has an "
        "unsubscribe link.",
        "newsletter.email": "E-mail address",
        "newsletter.name": "Your name",
        "newsletter.name.hint": "Optional: only to greet you.",
        "newsletter.field.name": "At most 200 characters, please.",
        "newsletter.version": "version {version}",
        "newsletter.agree": "I have read this text and want the newsletter",
        "newsletter.consent.needed": "Please tick the box to agree to this text.",
        "newsletter.submit": "Subscribe",
        "newsletter.sent": "Please check your mail: if this address can receive the newsletter, a "
        "confirmation link is on its way. Nothing is sent until you open it.",
        "newsletter.account": "With an account you can also switch the newsletter on and off on",
        "newsletter.again": "Subscribe again",
        "newsletter.link.missing": "This link is not complete. Please use the whole link from the mail.",
        "newsletter.confirm.title": "Confirm your subscription",
        "newsletter.confirm.lead": "Please confirm that you want the newsletter at this address.",
        "newsletter.confirm.submit": "Confirm",
        "newsletter.confirm.done": "Thank you: your subscription is confirmed.",
        "newsletter.unsubscribe.title": "Unsubscribe from the newsletter",
        "newsletter.unsubscribe.lead": "Do you want to stop receiving the newsletter?",
        "newsletter.unsubscribe.submit": "Unsubscribe",
        "newsletter.unsubscribe.done": "You are unsubscribed and will receive no more newsletters.",
    },
    "de": {
        "newsletter.nav": "Newsletter",
        "newsletter.title": "Newsletter",
        "newsletter.lead": "Neuigkeiten zu unseren Produkten, Updates und Veranstaltungen per E-Mail. Wir "
        "senden ihn erst, wenn Sie Ihre Adresse mit dem Link aus unserer E-Mail bestätigt haben, und "
        "jede Ausgabe enthält einen Abmeldelink.",
        "newsletter.email": "E-Mail-Adresse",
        "newsletter.name": "Ihr Name",
        "newsletter.name.hint": "Freiwillig: nur für die Anrede.",
        "newsletter.field.name": "Bitte höchstens 200 Zeichen.",
        "newsletter.version": "Version {version}",
        "newsletter.agree": "Ich habe diesen Text gelesen und möchte den Newsletter erhalten",
        "newsletter.consent.needed": "Bitte kreuzen Sie das Feld an, um diesem Text zuzustimmen.",
        "newsletter.submit": "Abonnieren",
        "newsletter.sent": "Bitte sehen Sie in Ihr Postfach: Wenn diese Adresse den Newsletter erhalten "
        "kann, ist ein Bestätigungslink unterwegs. Bis Sie ihn öffnen, senden wir nichts.",
        "newsletter.account": "Mit einem Konto können Sie den Newsletter auch hier ein- und ausschalten:",
        "newsletter.again": "Erneut anmelden",
        "newsletter.link.missing": "Dieser Link ist unvollständig. Bitte verwenden Sie den ganzen Link aus "
        "der E-Mail.",
        "newsletter.confirm.title": "Anmeldung bestätigen",
        "newsletter.confirm.lead": "Bitte bestätigen Sie, dass Sie den Newsletter an diese Adresse erhalten "
        "möchten.",
        "newsletter.confirm.submit": "Bestätigen",
        "newsletter.confirm.done": "Danke! Ihre Anmeldung ist bestätigt.",
        "newsletter.unsubscribe.title": "Newsletter abbestellen",
        "newsletter.unsubscribe.lead": "Möchten Sie den Newsletter nicht mehr erhalten?",
        "newsletter.unsubscribe.submit": "Abbestellen",
        "newsletter.unsubscribe.done": "Sie sind abgemeldet und erhalten keinen Newsletter mehr.",
    },
}
