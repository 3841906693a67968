"""Texts of the privacy centre, the request without an account and the mailed links' pages."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "privacy.overview.title": "Privacy centre",
        "privacy.overview.lead": "Every right you have over your data, in one place: see and change your "
        "consents, download your data, restrict or object to its use, or erase your account.",
        "privacy.choose": "Please choose",
        "privacy.reason.label": "Reason (optional)",
        "privacy.reason.long": "Please keep the reason under 2,000 characters.",
        "privacy.link.broken": "This link is unknown, used or expired. Please open the link from the mail "
        "again.",
        "privacy.consents.title": "My consents",
        "privacy.consents.lead": "What you agreed to, with the exact text of every version, and when. You "
        "can withdraw a consent at any time; it counts for the future.",
        "privacy.consents.granted": "Granted: version {version}, since {since}",
        "privacy.consents.newer": "A newer text (version {version}) is below; it applies once you agree to "
        "it.",
        "privacy.consents.text": "The current text (version {version})",
        "privacy.consents.grant": "Agree: {title}",
        "privacy.consents.withdraw": "Withdraw: {title}",
        "privacy.consents.account": "Withdrawing this consent deletes your account.",
        "privacy.consents.history": "History",
        "privacy.consents.none": "Nothing recorded yet.",
        "privacy.consents.version": "version {version}",
        "privacy.consents.exact": "The exact text of version {version}",
        "privacy.consents.done.granted": "Your consent is recorded.",
        "privacy.consents.done.withdrawn": "Your withdrawal is recorded.",
        "privacy.state.granted": "Granted",
        "privacy.state.withdrawn": "Withdrawn",
        "privacy.state.refused": "Refused",
        "privacy.state.not_given": "Not given",
        "privacy.action.grant": "Agreed",
        "privacy.action.withdrawal": "Withdrawn",
        "privacy.action.refusal": "Refused",
        "privacy.purpose.account": "Customer account",
        "privacy.purpose.newsletter": "Newsletter (direct marketing)",
        "privacy.purpose.analytics": "Analytics of page views",
        "privacy.purpose.access_logs": "Access logs (security and stability)",
        "privacy.purpose.contact_requests": "Contact and callback requests",
        "privacy.export.title": "Download my data",
        "privacy.export.lead": "One JSON file with everything every service holds about you: what, what "
        "for, on which legal ground, for how long and to whom it was passed.",
        "privacy.export.download": "Download my data (JSON)",
        "privacy.erase.title": "Erase my account",
        "privacy.erase.lead": "Every service deletes what it holds about you, or blocks what the law makes "
        "us keep, and sends a receipt you can read here.",
        "privacy.erase.deleted.title": "What is deleted",
        "privacy.erase.deleted.account": "Your account, profile and every log-in session, at once. Only a "
        "marker without your name or address remains, so that the erasure can be proven.",
        "privacy.erase.deleted.newsletter": "Your newsletter subscriptions and the record of what was sent "
        "to you.",
        "privacy.erase.deleted.contact": "Your contact and callback requests, your cart and your download "
        "history.",
        "privacy.erase.deleted.analytics": "Any page views counted with your consent.",
        "privacy.erase.kept.title": "What is kept, and why",
        "privacy.erase.kept.orders": "Completed orders and invoices: German commercial and tax law (HGB "
        "§257, AO §147) makes us keep booking documents and invoices for 8 years and business letters for "
        "6 years. They are blocked at once, seen only by accounting, and deleted when that period ends; "
        "your phone number, delivery notes and download history are deleted now.",
        "privacy.erase.kept.open": "Open orders: the erasure of an order waits until the contract is "
        "fulfilled (Art. 17(3)(b) GDPR); its receipt says so.",
        "privacy.erase.kept.consents": "Your consent records, without your e-mail address or name: the law "
        "asks us to prove consent (Art. 7(1) GDPR). They are deleted 3 years later.",
        "privacy.erase.kept.suppression": "A keyed hash of your address on the newsletter's block list, so "
        "that you are never mailed again.",
        "privacy.erase.kept.logs": "Access logs with shortened IP addresses, which are deleted after 7 days.",
        "privacy.erase.receipts": "After you confirm, you get a link to follow the request; we also send "
        "it by mail.",
        "privacy.erase.form.title": "Confirm the erasure",
        "privacy.erase.confirm": "I understand that my account is deleted and that I cannot undo this",
        "privacy.erase.confirm.missing": "Please tick the box to confirm the erasure.",
        "privacy.erase.submit": "Erase my account",
        "privacy.restriction.title": "Restrict processing",
        "privacy.restriction.lead": "While processing is restricted we send you no marketing, build no "
        "profile and staff cannot change your data; you can still log in and your orders are kept blocked.",
        "privacy.restriction.on": "Processing of your data is restricted.",
        "privacy.restriction.off": "Processing of your data is not restricted.",
        "privacy.restriction.restrict": "Restrict processing",
        "privacy.restriction.lift": "Lift the restriction",
        "privacy.objection.title": "Object",
        "privacy.objection.lead": "Object to a use of your data. An objection to direct marketing stops it "
        "at once; any other objection goes to our data-protection officer, who decides and tells you why.",
        "privacy.objection.purpose": "What you object to",
        "privacy.objection.purpose.missing": "Please choose what you object to.",
        "privacy.objection.reason": "Your reason",
        "privacy.objection.submit": "Send the objection",
        "privacy.requests.title": "My privacy requests",
        "privacy.requests.lead": "Every request you made, its status and deadline, and each service's "
        "receipt.",
        "privacy.requests.none": "You have not made any privacy request.",
        "privacy.request.id": "Request",
        "privacy.request.kind": "Kind",
        "privacy.request.status": "Status",
        "privacy.request.received": "Received",
        "privacy.request.due": "Due by",
        "privacy.request.overdue": "overdue",
        "privacy.request.completed": "Completed",
        "privacy.request.decision": "Decision",
        "privacy.request.waiting": "Waiting for",
        "privacy.kind.access": "Access to my data",
        "privacy.kind.erasure": "Erasure",
        "privacy.kind.restriction": "Restriction of processing",
        "privacy.kind.restriction_lift": "Lifting the restriction",
        "privacy.kind.objection": "Objection",
        "privacy.status.awaiting_confirmation": "Waiting for your confirmation",
        "privacy.status.open": "Open",
        "privacy.status.in_progress": "In progress",
        "privacy.status.deferred": "Deferred",
        "privacy.status.complete": "Complete",
        "privacy.status.rejected": "Rejected",
        "privacy.status.expired": "Expired",
        "privacy.receipts.title": "Receipts",
        "privacy.receipts.none": "No receipt yet.",
        "privacy.receipts.deleted": "Deleted",
        "privacy.receipts.blocked": "Blocked",
        "privacy.receipts.kept": "Kept",
        "privacy.receipts.retained": "Kept until",
        "privacy.receipts.note": "Note",
        "privacy.receipts.until": "until {until}",
        "privacy.outcome.done": "done",
        "privacy.outcome.deferred": "deferred",
        "privacy.opened.title": "Your request is received",
        "privacy.opened.lead": "We have received your request: {kind}.",
        "privacy.opened.follow": "Keep this link: it shows the status and every service's receipt without "
        "logging in. We also sent it to you by mail.",
        "privacy.opened.follow.link": "Follow this request",
        "privacy.request.title": "A privacy request without an account",
        "privacy.request.lead": "Ask for any of your rights with your e-mail address. We send a link to "
        "that address; nothing happens until you confirm it.",
        "privacy.request.email": "E-mail address",
        "privacy.request.purpose": "Purpose (objections only)",
        "privacy.request.purpose.hint": "For example newsletter, analytics, access_logs or contact_requests.",
        "privacy.request.kind.missing": "Please choose what you ask for.",
        "privacy.request.submit": "Send the request",
        "privacy.request.sent": "We sent a link to this address; the request goes ahead once you confirm it.",
        "privacy.confirm.title": "Confirm your privacy request",
        "privacy.confirm.lead": "Confirm that you made this request; only then does it go ahead.",
        "privacy.confirm.submit": "Confirm the request",
        "privacy.confirm.done": "Your request is confirmed.",
        "privacy.confirm.follow": "The other link in the mail shows its progress and every service's "
        "receipt.",
        "privacy.follow.title": "Your privacy request",
        "privacy.follow.lead": "Its status and the receipt of every service that handled it.",
        "privacy.proof.title": "Proof of erasure",
        "privacy.proof.searched": "Searched: {documents} documents, {messages} messages, {lines} log lines.",
        "privacy.proof.retained": "Found where a service declared it kept",
        "privacy.proof.failures": "Found where no service declared it",
        "privacy.proof.unanswered": "Not answered yet: {services}",
        "privacy.proof.pending": "The search for remaining traces has not finished yet.",
        "privacy.proof.passed": "Passed: nothing of you was found except what is declared as kept.",
        "privacy.proof.failed": "Failed: something was found that no service declared; we are looking into "
        "it.",
        "privacy.proof.incomplete": "Incomplete: not every service has answered the search yet.",
    },
    "de": {
        "privacy.overview.title": "Datenschutz-Center",
        "privacy.overview.lead": "Alle Rechte an Ihren Daten an einem Ort: Einwilligungen ansehen und "
        "ändern, Ihre Daten herunterladen, die Verarbeitung einschränken, widersprechen oder Ihr Konto "
        "löschen.",
        "privacy.choose": "Bitte wählen",
        "privacy.reason.label": "Begründung (freiwillig)",
        "privacy.reason.long": "Bitte fassen Sie die Begründung in weniger als 2.000 Zeichen.",
        "privacy.link.broken": "Dieser Link ist unbekannt, verbraucht oder abgelaufen. Bitte öffnen Sie "
        "den Link aus der E-Mail noch einmal.",
        "privacy.consents.title": "Meine Einwilligungen",
        "privacy.consents.lead": "Wozu Sie eingewilligt haben, mit dem genauen Text jeder Fassung, und "
        "wann. Sie können eine Einwilligung jederzeit widerrufen; der Widerruf gilt für die Zukunft.",
        "privacy.consents.granted": "Erteilt: Fassung {version}, seit {since}",
        "privacy.consents.newer": "Unten steht ein neuerer Text (Fassung {version}); er gilt, sobald Sie "
        "ihm zustimmen.",
        "privacy.consents.text": "Der aktuelle Text (Fassung {version})",
        "privacy.consents.grant": "Einwilligen: {title}",
        "privacy.consents.withdraw": "Widerrufen: {title}",
        "privacy.consents.account": "Wenn Sie diese Einwilligung widerrufen, wird Ihr Konto gelöscht.",
        "privacy.consents.history": "Verlauf",
        "privacy.consents.none": "Noch nichts erfasst.",
        "privacy.consents.version": "Fassung {version}",
        "privacy.consents.exact": "Der genaue Text der Fassung {version}",
        "privacy.consents.done.granted": "Ihre Einwilligung ist erfasst.",
        "privacy.consents.done.withdrawn": "Ihr Widerruf ist erfasst.",
        "privacy.state.granted": "Erteilt",
        "privacy.state.withdrawn": "Widerrufen",
        "privacy.state.refused": "Abgelehnt",
        "privacy.state.not_given": "Nicht erteilt",
        "privacy.action.grant": "Eingewilligt",
        "privacy.action.withdrawal": "Widerrufen",
        "privacy.action.refusal": "Abgelehnt",
        "privacy.purpose.account": "Kundenkonto",
        "privacy.purpose.newsletter": "Newsletter (Direktwerbung)",
        "privacy.purpose.analytics": "Auswertung der Seitenaufrufe",
        "privacy.purpose.access_logs": "Zugriffsprotokolle (Sicherheit und Stabilität)",
        "privacy.purpose.contact_requests": "Kontakt- und Rückrufanfragen",
        "privacy.export.title": "Meine Daten herunterladen",
        "privacy.export.lead": "Eine JSON-Datei mit allem, was jeder Dienst über Sie speichert: was, wozu, "
        "auf welcher Rechtsgrundlage, wie lange und an wen es weitergegeben wurde.",
        "privacy.export.download": "Meine Daten herunterladen (JSON)",
        "privacy.erase.title": "Mein Konto löschen",
        "privacy.erase.lead": "Jeder Dienst löscht, was er über Sie speichert, oder sperrt, was wir "
        "gesetzlich aufbewahren müssen, und schickt eine Quittung, die Sie hier lesen können.",
        "privacy.erase.deleted.title": "Was gelöscht wird",
        "privacy.erase.deleted.account": "Ihr Konto, Ihr Profil und alle Anmeldesitzungen, sofort. Es "
        "bleibt nur ein Vermerk ohne Ihren Namen und Ihre Adresse, damit die Löschung nachweisbar ist.",
        "privacy.erase.deleted.newsletter": "Ihre Newsletter-Abonnements und der Nachweis, was Ihnen "
        "gesendet wurde.",
        "privacy.erase.deleted.contact": "Ihre Kontakt- und Rückrufanfragen, Ihr Warenkorb und Ihr "
        "Download-Verlauf.",
        "privacy.erase.deleted.analytics": "Seitenaufrufe, die mit Ihrer Einwilligung gezählt wurden.",
        "privacy.erase.kept.title": "Was aufbewahrt wird, und warum",
        "privacy.erase.kept.orders": "Abgeschlossene Bestellungen und Rechnungen: Handels- und Steuerrecht "
        "(HGB §257, AO §147) verpflichten uns, Buchungsbelege und Rechnungen 8 Jahre und Geschäftsbriefe 6 "
        "Jahre aufzubewahren. Sie werden sofort gesperrt, nur noch von der Buchhaltung gesehen und nach "
        "Ablauf der Frist gelöscht; Telefonnummer, Lieferhinweise und Download-Verlauf werden sofort "
        "gelöscht.",
        "privacy.erase.kept.open": "Offene Bestellungen: Ihre Löschung wartet, bis der Vertrag erfüllt ist "
        "(Art. 17 Abs. 3 lit. b DSGVO); die Quittung sagt das.",
        "privacy.erase.kept.consents": "Ihre Einwilligungsnachweise, ohne E-Mail-Adresse und Namen: Das "
        "Gesetz verlangt, dass wir Einwilligungen nachweisen (Art. 7 Abs. 1 DSGVO). Sie werden nach 3 "
        "Jahren gelöscht.",
        "privacy.erase.kept.suppression": "Ein mit geheimem Schlüssel gebildeter Hashwert Ihrer Adresse "
        "auf der Sperrliste des Newsletters, damit Sie nie wieder angeschrieben werden.",
        "privacy.erase.kept.logs": "Zugriffsprotokolle mit gekürzten IP-Adressen, die nach 7 Tagen "
        "gelöscht werden.",
        "privacy.erase.receipts": "Nach der Bestätigung erhalten Sie einen Link, mit dem Sie den Antrag "
        "verfolgen können; wir schicken ihn auch per E-Mail.",
        "privacy.erase.form.title": "Löschung bestätigen",
        "privacy.erase.confirm": "Ich verstehe, dass mein Konto gelöscht wird und dass ich das nicht "
        "rückgängig machen kann",
        "privacy.erase.confirm.missing": "Bitte kreuzen Sie das Kästchen an, um die Löschung zu bestätigen.",
        "privacy.erase.submit": "Mein Konto löschen",
        "privacy.restriction.title": "Verarbeitung einschränken",
        "privacy.restriction.lead": "Solange die Verarbeitung eingeschränkt ist, senden wir Ihnen keine "
        "Werbung, erstellen kein Profil und unsere Mitarbeiter können Ihre Daten nicht ändern; Sie können "
        "sich weiter anmelden, und Ihre Bestellungen bleiben gesperrt.",
        "privacy.restriction.on": "Die Verarbeitung Ihrer Daten ist eingeschränkt.",
        "privacy.restriction.off": "Die Verarbeitung Ihrer Daten ist nicht eingeschränkt.",
        "privacy.restriction.restrict": "Verarbeitung einschränken",
        "privacy.restriction.lift": "Einschränkung aufheben",
        "privacy.objection.title": "Widersprechen",
        "privacy.objection.lead": "Widersprechen Sie einer Verwendung Ihrer Daten. Ein Widerspruch gegen "
        "Direktwerbung beendet sie sofort; über jeden anderen entscheidet unser Datenschutzbeauftragter "
        "und teilt Ihnen die Gründe mit.",
        "privacy.objection.purpose": "Wogegen Sie widersprechen",
        "privacy.objection.purpose.missing": "Bitte wählen Sie, wogegen Sie widersprechen.",
        "privacy.objection.reason": "Ihre Begründung",
        "privacy.objection.submit": "Widerspruch senden",
        "privacy.requests.title": "Meine Datenschutzanträge",
        "privacy.requests.lead": "Jeder Ihrer Anträge mit Stand und Frist und der Quittung jedes Dienstes.",
        "privacy.requests.none": "Sie haben noch keinen Datenschutzantrag gestellt.",
        "privacy.request.id": "Vorgang",
        "privacy.request.kind": "Art",
        "privacy.request.status": "Stand",
        "privacy.request.received": "Eingegangen",
        "privacy.request.due": "Fällig bis",
        "privacy.request.overdue": "überfällig",
        "privacy.request.completed": "Abgeschlossen",
        "privacy.request.decision": "Entscheidung",
        "privacy.request.waiting": "Wartet auf",
        "privacy.kind.access": "Auskunft über meine Daten",
        "privacy.kind.erasure": "Löschung",
        "privacy.kind.restriction": "Einschränkung der Verarbeitung",
        "privacy.kind.restriction_lift": "Aufhebung der Einschränkung",
        "privacy.kind.objection": "Widerspruch",
        "privacy.status.awaiting_confirmation": "Wartet auf Ihre Bestätigung",
        "privacy.status.open": "Offen",
        "privacy.status.in_progress": "In Bearbeitung",
        "privacy.status.deferred": "Zurückgestellt",
        "privacy.status.complete": "Abgeschlossen",
        "privacy.status.rejected": "Abgelehnt",
        "privacy.status.expired": "Abgelaufen",
        "privacy.receipts.title": "Quittungen",
        "privacy.receipts.none": "Noch keine Quittung.",
        "privacy.receipts.deleted": "Gelöscht",
        "privacy.receipts.blocked": "Gesperrt",
        "privacy.receipts.kept": "Aufbewahrt",
        "privacy.receipts.retained": "Aufbewahrt bis",
        "privacy.receipts.note": "Hinweis",
        "privacy.receipts.until": "bis {until}",
        "privacy.outcome.done": "erledigt",
        "privacy.outcome.deferred": "zurückgestellt",
        "privacy.opened.title": "Ihr Antrag ist eingegangen",
        "privacy.opened.lead": "Wir haben Ihren Antrag erhalten: {kind}.",
        "privacy.opened.follow": "Bewahren Sie diesen Link auf: Er zeigt den Stand und die Quittung jedes "
        "Dienstes ohne Anmeldung. Wir haben ihn Ihnen auch per E-Mail geschickt.",
        "privacy.opened.follow.link": "Diesen Antrag verfolgen",
        "privacy.request.title": "Ein Datenschutzantrag ohne Konto",
        "privacy.request.lead": "Machen Sie jedes Ihrer Rechte mit Ihrer E-Mail-Adresse geltend. Wir "
        "schicken einen Link an diese Adresse; erst wenn Sie ihn bestätigen, geschieht etwas.",
        "privacy.request.email": "E-Mail-Adresse",
        "privacy.request.purpose": "Zweck (nur bei Widerspruch)",
        "privacy.request.purpose.hint": "Zum Beispiel newsletter, analytics, access_logs oder "
        "contact_requests.",
        "privacy.request.kind.missing": "Bitte wählen Sie, was Sie beantragen.",
        "privacy.request.submit": "Antrag senden",
        "privacy.request.sent": "Wir haben einen Link an diese Adresse geschickt; der Antrag wird "
        "bearbeitet, sobald Sie ihn bestätigen.",
        "privacy.confirm.title": "Datenschutzantrag bestätigen",
        "privacy.confirm.lead": "Bestätigen Sie, dass Sie diesen Antrag gestellt haben; erst dann wird er "
        "bearbeitet.",
        "privacy.confirm.submit": "Antrag bestätigen",
        "privacy.confirm.done": "Ihr Antrag ist bestätigt.",
        "privacy.confirm.follow": "Der andere Link in der E-Mail zeigt den Stand und die Quittung jedes "
        "Dienstes.",
        "privacy.follow.title": "Ihr Datenschutzantrag",
        "privacy.follow.lead": "Sein Stand und die Quittung jedes Dienstes, der ihn bearbeitet hat.",
        "privacy.proof.title": "Nachweis der Löschung",
        "privacy.proof.searched": "Durchsucht: {documents} Dokumente, {messages} Nachrichten, {lines} "
        "Protokollzeilen.",
        "privacy.proof.retained": "Gefunden, wo ein Dienst die Aufbewahrung erklärt hat",
        "privacy.proof.failures": "Gefunden, wo kein Dienst es erklärt hat",
        "privacy.proof.unanswered": "Noch keine Antwort von: {services}",
        "privacy.proof.pending": "Die Suche nach verbliebenen Spuren ist noch nicht abgeschlossen.",
        "privacy.proof.passed": "Bestanden: Außer dem, was als aufbewahrt erklärt ist, wurde nichts von "
        "Ihnen gefunden.",
        "privacy.proof.failed": "Nicht bestanden: Es wurde etwas gefunden, das kein Dienst erklärt hat; "
        "wir gehen dem nach.",
        "privacy.proof.incomplete": "Unvollständig: Noch haben nicht alle Dienste die Suche beantwortet.",
    },
}
