"""The UGC page's data: posts in the queue and decided, reward rules, the KOC board."""

from __future__ import annotations

from typing import Any

from siyu.console.i18n import translate
from siyu.console.views.common import column, count, percent, yuan
from siyu.ugc.models import (
    DEFAULT_CAMPAIGN,
    KocRanking,
    Post,
    RewardGiven,
    RewardRule,
    RewardRuleView,
    RowError,
)

TEXT_PREVIEW = 120


def is_web_link(value: str) -> bool:
    """Whether a post's URL may be drawn as a link (http/https only: never javascript:)."""
    return value.lower().startswith(("https://", "http://"))


def platform_label(platform: str, lang: str) -> str:
    """A platform's name in the operator's language."""
    return translate(lang, f"ugc.platform.{platform}")


def reward_text(reward: RewardGiven | RewardRule | None, lang: str) -> str:
    """ "50 积分" / "优惠券 ct_…" / "—"."""
    if reward is None:
        return "—"
    if reward.kind == "points":
        return translate(lang, "ugc.reward.points", amount=f"{reward.amount or 0:,}")
    return translate(lang, "ugc.reward.coupon", template=reward.template or "")


def preview(text: str | None) -> str:
    """A post's text cut to one table cell."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_PREVIEW else flat[: TEXT_PREVIEW - 1] + "…"


def moderated_rows(posts: list[Post], lang: str) -> list[dict[str, Any]]:
    """Decided posts: who, where, what became of them and what was paid."""
    return [
        {
            "key": p.id,
            "author": p.person_id,
            "platform": platform_label(p.platform.value, lang),
            "text": preview(p.text),
            "status": translate(lang, f"ugc.status.{p.status.value}"),
            "reason": p.reason or "",
            "reward": reward_text(p.reward, lang),
            "by": p.moderated_by or "",
        }
        for p in posts
    ]


def moderated_columns(lang: str) -> list[dict[str, Any]]:
    """The decided posts' columns."""
    names = ("author", "platform", "text", "status", "reason", "reward", "by")
    return [column(n, translate(lang, f"ugc.col.{n}")) for n in names]


def rule_rows(rules: list[RewardRuleView], lang: str) -> list[dict[str, Any]]:
    """One row per reward rule; the default campaign ``*`` named as such."""
    return [
        {
            "key": rule.campaign,
            "campaign": (
                translate(lang, "ugc.rule.default")
                if rule.campaign == DEFAULT_CAMPAIGN
                else rule.campaign
            ),
            "reward": reward_text(rule, lang),
        }
        for rule in rules
    ]


def rule_columns(lang: str) -> list[dict[str, Any]]:
    """The reward rules' columns."""
    return [column(n, translate(lang, f"ugc.col.{n}")) for n in ("campaign", "reward")]


KOC_NUMBERS = ("score", "reach", "clicks", "orders", "gmv", "approved", "rejected", "approval")


def koc_rows(ranking: KocRanking, holders: list[str], lang: str) -> list[dict[str, Any]]:
    """The ranking, best first: the score and the parts it is made of, and the tag state."""
    held = set(holders)
    yes, no = translate(lang, "ugc.yes"), translate(lang, "ugc.no")
    return [
        {
            "key": r.person_id,
            "rank": r.rank,
            "author": r.person_id,
            "score": f"{r.score:.2f}",
            "reach": count(r.reach),
            "clicks": count(r.clicks),
            "orders": count(r.orders),
            "gmv": yuan(r.gmv_fen),
            "approved": count(r.approved),
            "rejected": count(r.rejected),
            "approval": percent(r.approval_rate),
            "koc": yes if r.koc else no,
            "tagged": yes if r.person_id in held else no,
        }
        for r in ranking.items
    ]


def koc_columns(lang: str) -> list[dict[str, Any]]:
    """The KOC board's columns: rank, author, the score's parts, would-be KOC, holds the tag."""
    names = ("rank", "author", *KOC_NUMBERS, "koc", "tagged")
    return [
        column(n, translate(lang, f"ugc.col.{n}"), align="right" if n in KOC_NUMBERS else "left")
        for n in names
    ]


def error_rows(errors: list[RowError]) -> list[dict[str, Any]]:
    """A CSV import's refused rows: row number (1 = first data row), field, reason."""
    return [
        {"key": f"{e.row}:{e.field}", "row": e.row, "field": e.field, "message": e.message}
        for e in errors
    ]


def error_columns(lang: str) -> list[dict[str, Any]]:
    """The refused rows' columns."""
    return [column(n, translate(lang, f"ugc.col.{n}")) for n in ("row", "field", "message")]
