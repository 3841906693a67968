"""German and English: chosen by the switch (a cookie set only when a person uses it) or
else by Accept-Language. Texts are looked up by key; a key missing in German falls back
to English, so a page never shows a key."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from lethe_gateway.cookies import read_cookie
from lethe_gateway.web.texts import merged

LANGUAGES = ("en", "de")
LANGUAGE_COOKIE = "lethe_lang"  # set only by the language switch, which a person clicks

TEXTS = merged()


def language(request: Request) -> str:
    """The switch's cookie first, then the best Accept-Language match, else English."""
    chosen = read_cookie(request, LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, str]] = []
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES:
            ranked.append((quality, primary))
    return max(ranked)[1] if ranked else "en"


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)`` for templates."""
    texts, fallback = TEXTS.get(lang, TEXTS["en"]), TEXTS["en"]

    def t(key: str, **values: object) -> str:
        text = texts.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t
