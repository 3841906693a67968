"""Texts of the staff pages, in English and German."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "staff.forbidden.title": "Not for this account",
        "staff.forbidden": "This page is for staff with the admin role.",
        "staff.traffic.title": "Traffic",
        "staff.traffic.lead": "Page views counted on our own server. The counts name no one; "
        "views of visitors who consented are kept 13 months and are not shown here.",
        "staff.traffic.window": "Period",
        "staff.traffic.days": "last {days} days",
        "staff.traffic.show": "Show",
        "staff.traffic.total": "{views} page views in the last {days} days.",
        "staff.traffic.daily": "Page views per day",
        "staff.traffic.day": "Day",
        "staff.traffic.views": "Page views",
        "staff.traffic.top": "Most viewed pages",
        "staff.traffic.page": "Page",
        "staff.traffic.none": "No page views in this period.",
    },
    "de": {
        "staff.forbidden.title": "Nicht für dieses Konto",
        "staff.forbidden": "Diese Seite ist für Mitarbeitende mit der Rolle Administration.",
        "staff.traffic.title": "Besuche",
        "staff.traffic.lead": "Seitenaufrufe, auf unserem eigenen Server gezählt. Die Zahlen nennen "
        "niemanden; Aufrufe von Besuchern mit Einwilligung werden 13 Monate aufbewahrt und hier "
        "nicht gezeigt.",
        "staff.traffic.window": "Zeitraum",
        "staff.traffic.days": "letzte {days} Tage",
        "staff.traffic.show": "Anzeigen",
        "staff.traffic.total": "{views} Seitenaufrufe in den letzten {days} Tagen.",
        "staff.traffic.daily": "Seitenaufrufe pro Tag",
        "staff.traffic.day": "Tag",
        "staff.traffic.views": "Seitenaufrufe",
        "staff.traffic.top": "Meistbesuchte Seiten",
        "staff.traffic.page": "Seite",
        "staff.traffic.none": "Keine Seitenaufrufe in diesem Zeitraum.",
    },
}
