"""The message catalogue: both languages complete, every key the console uses present."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from siyu.console import i18n

CONSOLE = Path(i18n.__file__).parent
# t("key") / translate(lang, "key"); keys built at run time are listed in DYNAMIC below.
USED = re.compile(r'\b(?:t|translate)\((?:\s*lang,)?\s*"([a-z_][a-z0-9_.]*)"')
DYNAMIC = re.compile(r'\bt\(\s*f"([a-z_.]+)\{|translate\(\s*lang,\s*f"([a-z_.]+)\{')


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys() -> None:
    assert set(i18n.ZH) == set(i18n.EN)
    assert i18n.DEFAULT_LANGUAGE == "zh"


def test_no_message_is_blank_and_chinese_messages_differ_from_english() -> None:
    for lang, catalogue in i18n.MESSAGES.items():
        assert all(text.strip() for text in catalogue.values()), lang
    translated = [key for key in i18n.ZH if i18n.ZH[key] != i18n.EN[key]]
    assert len(translated) > 0.8 * len(i18n.ZH)


# Chinese writes 20% off as 8折, so that message takes a value English does not use.
DIFFERENT_PLACEHOLDERS = {"loyalty.rule_percent": {"threshold", "percent", "zhe"}}


@pytest.mark.parametrize("key", sorted(i18n.ZH))
def test_placeholders_agree_across_languages(key: str) -> None:
    zh, en = _placeholders(i18n.ZH[key]), _placeholders(i18n.EN[key])
    if key in DIFFERENT_PLACEHOLDERS:
        assert zh | en == DIFFERENT_PLACEHOLDERS[key]
    else:
        assert zh == en


def test_every_key_used_in_the_console_is_in_the_catalogue() -> None:
    used: set[str] = set()
    prefixes: set[str] = set()
    for path in CONSOLE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(USED.findall(source))
        prefixes |= {a or b for a, b in DYNAMIC.findall(source)}
    assert len(used) > 150
    assert used - set(i18n.ZH) == set()
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in i18n.ZH), prefix


def test_translate_fills_placeholders_and_falls_back() -> None:
    assert i18n.translate("en", "segments.size", n="12") == "About 12 persons"
    assert i18n.translate("zh", "segments.size", n="12") == "预计 12 人"
    assert i18n.translate("fr", "nav.people") == i18n.ZH["nav.people"]
    assert i18n.translate("en", "no.such.key") == "no.such.key"
