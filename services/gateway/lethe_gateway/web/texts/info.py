"""Texts of the privacy notice, the imprint and the contact form.

The imprint's details (``info.imprint.*.value``, company, street, city) are the vendor's to
fill in before the site goes live: they name the product, "Lethe", and addresses that cannot
be real (the ``.example`` domain, postcode 00000), and the page says so.
"""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "info.footer.contact": "Contact",
        "info.notice.title": "Privacy notice",
        "info.notice.lead": "What each part of Lethe keeps about you, why, on which legal basis and for "
        "how long. This page is generated from what each service declares in its data inventory, the "
        "same declaration your data export carries, so it cannot differ from what the services do.",
        "info.notice.controller": "Who is responsible for your data:",
        "info.notice.rights": "You can see, correct, export, restrict and erase your data and object to "
        "processing in the privacy centre of your account, or write to us:",
        "info.notice.english": "The services declare these details in English; they are shown unchanged.",
        "info.notice.contents": "Contents",
        "info.notice.declared": "As the {service} service declares it:",
        "info.notice.categories": "Data",
        "info.notice.fields": "Fields",
        "info.notice.purpose": "Purpose",
        "info.notice.basis": "Legal basis",
        "info.notice.retention": "How long",
        "info.notice.recipients": "Passed to",
        "info.notice.recipients.none": "no one",
        "info.notice.collection": "Where it is kept",
        "info.notice.nothing": "This service declares no personal data.",
        "info.notice.texts": "Consent texts in force",
        "info.notice.texts.lead": "Where we ask for your consent, you agree to exactly these texts; each "
        "change is published as a new version, and your account shows which version you agreed to.",
        "info.notice.version": "Purpose {purpose}, version {version}, published {published}",
        "info.service.identity": "Accounts, log-in and contact requests",
        "info.service.consent": "Consents and privacy requests",
        "info.service.shop": "Shop: orders, payments, deliveries, downloads",
        "info.service.newsletter": "Newsletter",
        "info.service.analytics": "Web analytics (only with your consent)",
        "info.service.gateway": "The web site: access logs",
        "info.imprint.title": "Imprint",
        "info.imprint.fill": "The vendor who runs Lethe fills in these details before the site goes "
        "live; the ones below are examples, not a real company.",
        "info.imprint.provider": "Service provider",
        "info.imprint.company": "Lethe (example vendor)",
        "info.imprint.street": "Beispielstraße 1",
        "info.imprint.city": "00000 Beispielstadt",
        "info.imprint.country": "Germany",
        "info.imprint.represented": "Represented by",
        "info.imprint.represented.value": "the vendor's managing director (to be filled in)",
        "info.imprint.email": "E-mail",
        "info.imprint.email.value": "info@lethe.example",
        "info.imprint.register": "Commercial register",
        "info.imprint.register.value": "to be filled in by the vendor",
        "info.imprint.vat": "VAT identification number",
        "info.imprint.vat.value": "to be filled in by the vendor",
        "info.imprint.dpo": "Data protection officer",
        "info.imprint.dpo.value": "privacy@lethe.example, or by post to the address above, marked "
        '"data protection officer"',
        "info.contact.title": "Contact us",
        "info.contact.lead": "Ask us anything, or ask for a call back. We answer by e-mail, or call you "
        "back at the number you give.",
        "info.contact.kind": "What would you like?",
        "info.contact.kind.contact": "An answer by e-mail",
        "info.contact.kind.callback": "A call back",
        "info.contact.name": "Your name",
        "info.contact.email": "E-mail address",
        "info.contact.phone": "Phone",
        "info.contact.phone.hint": "Needed for a call back, optional otherwise.",
        "info.contact.phone.invalid": "Please enter a phone number like +49 30 1234567.",
        "info.contact.message": "Your message",
        "info.contact.message.invalid": "Please write your message (at most 5,000 characters).",
        "info.contact.trap": "Leave this field empty",
        "info.contact.purpose": "What we do with this",
        "info.contact.submit": "Send",
        "info.contact.sent": "Thank you: we will get back to you.",
    },
    "de": {
        "info.footer.contact": "Kontakt",
        "info.notice.title": "Datenschutzerklärung",
        "info.notice.lead": "Was jeder Teil von Lethe über Sie speichert, wozu, auf welcher "
        "Rechtsgrundlage und wie lange. Diese Seite wird aus dem erzeugt, was jeder Dienst in seinem "
        "Datenverzeichnis angibt, derselben Angabe, die Ihr Datenexport enthält; sie kann daher nicht "
        "von dem abweichen, was die Dienste tun.",
        "info.notice.controller": "Verantwortlich für Ihre Daten:",
        "info.notice.rights": "Sie können Ihre Daten im Datenschutz-Center Ihres Kontos einsehen, "
        "berichtigen, exportieren, einschränken und löschen lassen und der Verarbeitung widersprechen, "
        "oder Sie schreiben uns:",
        "info.notice.english": "Die Angaben der Dienste liegen nur auf Englisch vor; wir zeigen sie "
        "unverändert, so wie die Dienste sie festlegen.",
        "info.notice.contents": "Inhalt",
        "info.notice.declared": "So, wie der Dienst {service} es angibt:",
        "info.notice.categories": "Daten",
        "info.notice.fields": "Felder",
        "info.notice.purpose": "Zweck",
        "info.notice.basis": "Rechtsgrundlage",
        "info.notice.retention": "Wie lange",
        "info.notice.recipients": "Weitergegeben an",
        "info.notice.recipients.none": "niemanden",
        "info.notice.collection": "Wo es gespeichert ist",
        "info.notice.nothing": "Dieser Dienst gibt keine personenbezogenen Daten an.",
        "info.notice.texts": "Geltende Einwilligungstexte",
        "info.notice.texts.lead": "Wo wir Sie um Ihre Einwilligung bitten, stimmen Sie genau diesen Texten "
        "zu; jede Änderung erscheint als neue Version, und Ihr Konto zeigt, welcher Version Sie "
        "zugestimmt haben.",
        "info.notice.version": "Zweck {purpose}, Version {version}, veröffentlicht am {published}",
        "info.service.identity": "Konten, Anmeldung und Kontaktanfragen",
        "info.service.consent": "Einwilligungen und Datenschutzanfragen",
        "info.service.shop": "Shop: Bestellungen, Zahlungen, Lieferungen, Downloads",
        "info.service.newsletter": "Newsletter",
        "info.service.analytics": "Webanalyse (nur mit Ihrer Einwilligung)",
        "info.service.gateway": "Die Website: Zugriffsprotokolle",
        "info.imprint.title": "Impressum",
        "info.imprint.fill": "Der Anbieter, der Lethe betreibt, trägt diese Angaben ein, bevor die Seite "
        "online geht; die folgenden sind Beispiele, kein echtes Unternehmen.",
        "info.imprint.provider": "Diensteanbieter",
        "info.imprint.company": "Lethe (Beispielanbieter)",
        "info.imprint.street": "Beispielstraße 1",
        "info.imprint.city": "00000 Beispielstadt",
        "info.imprint.country": "Deutschland",
        "info.imprint.represented": "Vertreten durch",
        "info.imprint.represented.value": "die Geschäftsführung des Anbieters (einzutragen)",
        "info.imprint.email": "E-Mail",
        "info.imprint.email.value": "info@lethe.example",
        "info.imprint.register": "Handelsregister",
        "info.imprint.register.value": "vom Anbieter einzutragen",
        "info.imprint.vat": "Umsatzsteuer-Identifikationsnummer",
        "info.imprint.vat.value": "vom Anbieter einzutragen",
        "info.imprint.dpo": "Datenschutzbeauftragter",
        "info.imprint.dpo.value": "privacy@lethe.example, oder per Post an die obige Adresse mit dem "
        "Zusatz „der Datenschutzbeauftragte“",
        "info.contact.title": "Kontakt",
        "info.contact.lead": "Fragen Sie uns, oder bitten Sie um einen Rückruf. Wir antworten per E-Mail "
        "oder rufen Sie unter der angegebenen Nummer zurück.",
        "info.contact.kind": "Was möchten Sie?",
        "info.contact.kind.contact": "Eine Antwort per E-Mail",
        "info.contact.kind.callback": "Einen Rückruf",
        "info.contact.name": "Ihr Name",
        "info.contact.email": "E-Mail-Adresse",
        "info.contact.phone": "Telefon",
        "info.contact.phone.hint": "Nötig für einen Rückruf, sonst freiwillig.",
        "info.contact.phone.invalid": "Bitte geben Sie eine Telefonnummer wie +49 30 1234567 ein.",
        "info.contact.message": "Ihre Nachricht",
        "info.contact.message.invalid": "Bitte schreiben Sie Ihre Nachricht (höchstens 5.000 Zeichen).",
        "info.contact.trap": "Dieses Feld bitte leer lassen",
        "info.contact.purpose": "Was wir damit tun",
        "info.contact.submit": "Senden",
        "info.contact.sent": "Danke! Wir melden uns bei Ihnen.",
    },
}
