"""BM25 over a knowledge base, and how sure the best match is (pure, no store).

Every phrasing of an entry (its question and each alternative) is one BM25 document; an
entry scores its best phrasing. Confidence has two parts:

* ``score``: the top BM25 score over the most the query could score — the sum over its
  tokens of ``idf · (k1 + 1)``, BM25's ceiling for a term — so 1.0 means every query word
  matched at full weight, and a query full of words the KB never uses scores low;
* ``margin``: how far the best entry is ahead of the next one, ``(top − second) / top``.

A match is answered when ``score ≥ threshold`` and ``margin ≥ min_margin``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from siyu.assistant import text

K1 = 1.2
B = 0.5  # phrasings are short and similar in length: little length normalisation


class _LuceneIdfBM25(BM25Okapi):  # type: ignore[misc]
    """rank-bm25's Okapi BM25 with Lucene's idf, ``ln(1 + (N − n + 0.5) / (n + 0.5))``.

    rank-bm25's own idf, ``ln((N − n + 0.5) / (n + 0.5))``, is zero or negative for a word
    in half the phrasings or more (floored to a fraction of the mean): in a knowledge base of
    one or two entries every word is, and nothing could ever be answered. Lucene's form is
    positive for every word and ranks the same way otherwise.
    """

    def _calc_idf(self, nd: dict[str, int]) -> None:
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))
        self.average_idf = sum(self.idf.values()) / max(len(self.idf), 1)


@dataclass(frozen=True)
class Phrasing:
    """One indexed phrasing of an entry."""

    entry_id: str
    text: str


@dataclass(frozen=True)
class Match:
    """The best entry for a query and how sure it is."""

    entry_id: str | None
    score: float
    margin: float
    second_entry_id: str | None
    tokens: tuple[str, ...]


class KnowledgeIndex:
    """A BM25 index over entry phrasings with synonyms folded at index and query time."""

    def __init__(self, phrasings: Sequence[Phrasing], synonyms: Mapping[str, str]) -> None:
        self.synonyms = dict(synonyms)
        text.add_words(set(self.synonyms) | set(self.synonyms.values()))
        self.phrasings = [p for p in phrasings if text.tokens(p.text, self.synonyms)]
        corpus = [text.tokens(p.text, self.synonyms) for p in self.phrasings]
        self._bm25 = _LuceneIdfBM25(corpus, k1=K1, b=B) if corpus else None
        # A word the KB never uses weighs as much as its rarest word: asking about it
        # pulls the confidence down instead of being ignored.
        self._unknown_idf = max(self._bm25.idf.values()) if self._bm25 else 0.0

    def _ceiling(self, query: Sequence[str]) -> float:
        assert self._bm25 is not None
        idf: dict[str, float] = self._bm25.idf
        return sum(float(idf.get(t, self._unknown_idf)) * (K1 + 1) for t in set(query))

    def match(self, question: str) -> Match:
        """The best entry for ``question``, with its normalised score and margin."""
        query = tuple(text.tokens(question, self.synonyms))
        if self._bm25 is None or not query:
            return Match(None, 0.0, 0.0, None, query)
        scores = self._bm25.get_scores(list(query))
        best: dict[str, float] = {}
        for phrasing, value in zip(self.phrasings, scores, strict=True):
            if value > best.get(phrasing.entry_id, -math.inf):
                best[phrasing.entry_id] = float(value)
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        top_id, top = ranked[0]
        second_id, second = ranked[1] if len(ranked) > 1 else (None, 0.0)
        if top <= 0:
            return Match(None, 0.0, 0.0, None, query)
        ceiling = self._ceiling(query)
        return Match(
            entry_id=top_id,
            score=min(1.0, top / ceiling) if ceiling > 0 else 0.0,
            margin=(top - max(second, 0.0)) / top,
            second_entry_id=second_id,
            tokens=query,
        )


def confident(match: Match, *, threshold: float, min_margin: float) -> bool:
    """Whether ``match`` is sure enough to answer without a human."""
    return match.entry_id is not None and match.score >= threshold and match.margin >= min_margin
