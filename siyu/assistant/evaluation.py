"""Held-out evaluation: the assistant against two baselines on questions it never indexed.

* ``bm25-jieba``: the assistant (jieba words, synonyms, BM25, the confidence threshold);
* ``keyword``: exact keyword match only — the entry whose tags occur most in the question;
* ``bigram-tfidf``: character-bigram TF-IDF cosine without segmentation or synonyms, with
  the hand-over cut-off that is best for it on this very set (generous to the baseline).

A question is right when the expected entry is answered, or — for ``handover`` — when
nothing is; wrong when another entry (or any, for ``handover``) is answered.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import resources

from pydantic import BaseModel, Field

from siyu.assistant import ranking
from siyu.assistant.models import EntryCreate, EvalCase, EvalReport, EvalResult

HANDOVER = "handover"
Answerer = Callable[[str], str | None]


def _rows(name: str) -> list[dict[str, str]]:
    with resources.files("siyu.assistant.data").joinpath(name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]


def demo_entries() -> list[EntryCreate]:
    """The 山茶集 knowledge base shipped with the package."""
    return [
        EntryCreate(
            id=row["id"],
            question=row["question"],
            alternatives=_split(row["alternatives"]),
            answer=row["answer"],
            tags=_split(row["tags"]),
        )
        for row in _rows("knowledge.csv")
    ]


def demo_synonyms() -> dict[str, str]:
    """The 山茶集 synonyms: word → canonical word."""
    return {row["word"]: row["canonical"] for row in _rows("synonyms.csv")}


def demo_rules() -> list[dict[str, str]]:
    """The 山茶集 keyword rules as CSV rows."""
    return _rows("rules.csv")


def demo_cases() -> list[EvalCase]:
    """The held-out questions with their expected entry id or ``handover``."""
    return [
        EvalCase(question=r["question"], expected=r["expected"]) for r in _rows("evaluation.csv")
    ]


def score(name: str, cases: Sequence[EvalCase], answer: Answerer) -> EvalResult:
    """Accuracy, hand-over and wrong-answer rates of ``answer`` on ``cases``."""
    right = handed = wrong = 0
    misses: list[str] = []
    for case in cases:
        got = answer(case.question)
        handed += got is None
        if (got or HANDOVER) == case.expected:
            right += 1
        else:
            wrong += got is not None
            misses.append(f"{case.question} → {got or HANDOVER} (want {case.expected})")
    n = max(len(cases), 1)
    return EvalResult(
        method=name,
        questions=len(cases),
        accuracy=right / n,
        handover_rate=handed / n,
        wrong_rate=wrong / n,
        misses=misses,
    )


def bm25_answerer(
    entries: Sequence[EntryCreate], synonyms: dict[str, str], *, threshold: float, min_margin: float
) -> Answerer:
    """The assistant's retrieval as an answerer."""
    index = ranking.KnowledgeIndex(phrasings_of(entries), synonyms)

    def answer(question: str) -> str | None:
        match = index.match(question)
        ok = ranking.confident(match, threshold=threshold, min_margin=min_margin)
        return match.entry_id if ok else None

    return answer


def phrasings_of(entries: Sequence[EntryCreate]) -> list[ranking.Phrasing]:
    """Every enabled entry's question and alternatives as indexed phrasings."""
    return [
        ranking.Phrasing(e.id or "", phrase)
        for e in entries
        if e.enabled
        for phrase in [e.question, *e.alternatives]
    ]


def keyword_answerer(entries: Sequence[EntryCreate]) -> Answerer:
    """Baseline: the entry with the most of its tags in the question, verbatim."""

    def answer(question: str) -> str | None:
        hits = [(sum(tag in question for tag in e.tags), e.id) for e in entries]
        count, entry_id = max(hits, key=lambda hit: hit[0])
        return entry_id if count > 0 else None

    return answer


class BigramTfidf(BaseModel):
    """Baseline: character-bigram TF-IDF vectors, cosine similarity, no segmentation."""

    docs: list[tuple[str, dict[str, float]]] = Field(default_factory=list)
    idf: dict[str, float] = Field(default_factory=dict)

    @staticmethod
    def bigrams(text: str) -> Counter[str]:
        """Overlapping character pairs of ``text`` (characters alone for one-char text)."""
        chars = [c for c in text if c.isalnum()]
        return Counter("".join(p) for p in itertools.pairwise(chars)) or Counter(chars)

    @classmethod
    def build(cls, entries: Sequence[EntryCreate]) -> BigramTfidf:
        """Index every phrasing."""
        grams = [(p.entry_id, cls.bigrams(p.text)) for p in phrasings_of(entries)]
        df = Counter(g for _, counts in grams for g in counts)
        idf = {g: math.log((1 + len(grams)) / (1 + n)) + 1 for g, n in df.items()}
        model = cls(idf=idf)
        model.docs = [(entry_id, model.vector(counts)) for entry_id, counts in grams]
        return model

    def vector(self, counts: Counter[str]) -> dict[str, float]:
        """L2-normalised TF-IDF weights."""
        raw = {g: n * self.idf.get(g, 0.0) for g, n in counts.items()}
        norm = math.sqrt(sum(v * v for v in raw.values())) or 1.0
        return {g: v / norm for g, v in raw.items()}

    def best(self, question: str) -> tuple[str | None, float]:
        """The most similar entry and its cosine."""
        query = self.vector(self.bigrams(question))
        found: tuple[str | None, float] = (None, 0.0)
        for entry_id, doc in self.docs:
            cosine = sum(w * doc.get(g, 0.0) for g, w in query.items())
            if cosine > found[1]:
                found = (entry_id, cosine)
        return found


def bigram_result(entries: Sequence[EntryCreate], cases: Sequence[EvalCase]) -> EvalResult:
    """The bigram baseline at its best cut-off on ``cases``."""
    model = BigramTfidf.build(entries)
    best_of = {case.question: model.best(case.question) for case in cases}
    results = []
    for step in range(0, 20):
        cut = step / 20

        def answer(question: str, cut: float = cut) -> str | None:
            entry_id, cosine = best_of[question]
            return entry_id if cosine >= cut else None

        results.append(score(f"bigram-tfidf (cut {cut:.2f})", cases, answer))
    return max(results, key=lambda r: (r.accuracy, -r.wrong_rate))


def evaluate(
    *,
    entries: Sequence[EntryCreate],
    synonyms: dict[str, str],
    cases: Sequence[EvalCase],
    threshold: float,
    min_margin: float,
) -> EvalReport:
    """The assistant and both baselines on ``cases``."""
    ours = bm25_answerer(entries, synonyms, threshold=threshold, min_margin=min_margin)
    return EvalReport(
        threshold=threshold,
        min_margin=min_margin,
        results=[
            score("bm25-jieba", cases, ours),
            score("keyword", cases, keyword_answerer(entries)),
            bigram_result(entries, cases),
        ],
    )
