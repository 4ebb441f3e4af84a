"""Chinese text → search tokens: jieba segmentation, synonyms folded to one word, stop words out.

jieba ships its dictionary inside the wheel and builds a prefix-dictionary cache on first
use (a file in the temp dir, written once); nothing is downloaded. One tokenizer serves the
process: loading the dictionary costs about a second, and the words added to it (synonyms
and their canonical forms) only make segmentation keep those words whole.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Mapping

import jieba

# Particles, pronouns and fillers that say nothing about which question is asked.
_STOP_TEXT = (
    "的 了 吗 呢 啊 吧 呀 哦 嘛 么 哈 喔 噢 哎 诶 额 嗯 我 你 您 他 她 它 我们 你们 咱 咱们 "
    "是 在 就 都 也 还 又 和 跟 与 及 这 那 这个 那个 一下 一个 请问 请 麻烦 问 问下 想 想问 "
    "亲 小姐姐 客服 谢谢 好的 有点 有些 吧 呐 啦 么 得 地 着 过 个 把 被 给 让 要"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_LOCK = threading.Lock()
_ADDED: set[str] = set()


@functools.cache
def _tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def add_words(words: set[str]) -> None:
    """Make segmentation keep ``words`` whole (synonyms, product names)."""
    fresh = words - _ADDED
    if not fresh:
        return
    with _LOCK:
        tokenizer = _tokenizer()
        for word in sorted(fresh):
            tokenizer.add_word(word, freq=200_000)
            _ADDED.add(word)


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, trimmed."""
    return unicodedata.normalize("NFKC", text).lower().strip()


def segment(text: str) -> list[str]:
    """jieba's words of ``text`` (precise mode, no HMM guessing of unknown words)."""
    return [w for w in _tokenizer().lcut(normalise(text), HMM=False) if not _PUNCT.fullmatch(w)]


def tokens(text: str, synonyms: Mapping[str, str] | None = None) -> list[str]:
    """Search tokens: segmented words, each synonym replaced by its canonical word, stop
    words dropped."""
    table = synonyms or {}
    found = []
    for word in segment(text):
        canonical = table.get(word, word)
        if canonical in STOP_WORDS:
            continue
        found.append(canonical)
        if len(word) > 1:
            # The characters of a word too, weighed by BM25 like any token: a typo or an
            # unseen compound (寄出 for 发货, 积份 for 积分) still shares characters.
            found.extend(f"#{char}" for char in word if char not in STOP_WORDS)
    return found
