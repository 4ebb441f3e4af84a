"""The console's message catalogue: every visible string, in Chinese (default) and English.

Keys are dotted by area (``nav.*``, ``overview.*``…) and live in :mod:`messages_zh` and
:mod:`messages_en` (sign-in, roles, activities, knowledge base and keys in
:mod:`messages_ops_zh` / :mod:`messages_ops_en`; UGC and the content editor in
:mod:`messages_ugc_zh` / :mod:`messages_ugc_en`; team & privacy and password reset in
:mod:`messages_team_zh` / :mod:`messages_team_en`); :func:`translate` fills ``{name}``
placeholders. A test checks that both languages have exactly the same keys and placeholders.
"""

from __future__ import annotations

from siyu.console import (
    messages_en,
    messages_ops_en,
    messages_ops_zh,
    messages_team_en,
    messages_team_zh,
    messages_ugc_en,
    messages_ugc_zh,
    messages_zh,
)

DEFAULT_LANGUAGE = "zh"
LANGUAGES = ("zh", "en")

ZH: dict[str, str] = (
    messages_zh.MESSAGES
    | messages_ops_zh.MESSAGES
    | messages_ugc_zh.MESSAGES
    | messages_team_zh.MESSAGES
)
EN: dict[str, str] = (
    messages_en.MESSAGES
    | messages_ops_en.MESSAGES
    | messages_ugc_en.MESSAGES
    | messages_team_en.MESSAGES
)
MESSAGES: dict[str, dict[str, str]] = {"zh": ZH, "en": EN}


def translate(lang: str, key: str, **values: object) -> str:
    """The message ``key`` in ``lang`` with ``{name}`` placeholders filled.

    An unknown language falls back to Chinese; an unknown key shows itself, so a missing
    message is visible rather than blank (the catalogue test keeps that from shipping).
    """
    catalogue = MESSAGES.get(lang, MESSAGES[DEFAULT_LANGUAGE])
    text = catalogue.get(key, key)
    return text.format(**values) if values else text
