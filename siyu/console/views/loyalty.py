"""Loyalty and growth builders: tier distribution and the referral leaderboard."""

from __future__ import annotations

from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column, count, percent, yuan
from siyu.console.views.people import short_id
from siyu.loyalty.tier_models import TierDistribution
from siyu.referral.models import ReferralSummary


def tiers_view(found: TierDistribution, lang: str) -> ChartView:
    """Members per tier as a pie, the counts and shares as the table."""
    options = base_options(lang) | {
        "tooltip": {"trigger": "item", "formatter": "{b}: {c} ({d}%)"},
        "legend": {"bottom": 0},
        "series": [
            {
                "type": "pie",
                "radius": ["40%", "70%"],
                "data": [{"name": tier.name, "value": tier.members} for tier in found.tiers],
                "label": {"formatter": "{b}\n{c}"},
            }
        ],
    }
    rows = [
        {
            "key": tier.tier,
            "tier": tier.name,
            "code": tier.tier,
            "members": count(tier.members),
            "share": percent(tier.share),
        }
        for tier in found.tiers
    ]
    return ChartView(
        title=translate(lang, "loyalty.distribution"),
        options=options,
        columns=[
            column("tier", translate(lang, "col.tier")),
            column("code", translate(lang, "col.code")),
            column("members", translate(lang, "col.members"), align="right"),
            column("share", translate(lang, "col.share"), align="right"),
        ],
        rows=rows if found.total else [],
        note=translate(
            lang, "loyalty.distribution_note", total=count(found.total), grace=count(found.in_grace)
        ),
        empty_hint=translate(lang, "loyalty.no_members"),
    )


def leaderboard_view(summary: ReferralSummary, lang: str) -> ChartView:
    """Top inviters: invitees and invitees who ordered, side by side."""
    leaders = summary.leaderboard
    names = [short_id(row.person_id) for row in leaders]
    options = base_options(lang) | {
        "legend": {},
        "grid": {"left": 100, "right": 30, "top": 40, "bottom": 30},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": names, "inverse": True},
        "series": [
            {
                "name": translate(lang, "growth.invitees"),
                "type": "bar",
                "data": [row.invitees for row in leaders],
            },
            {
                "name": translate(lang, "growth.ordered"),
                "type": "bar",
                "data": [row.ordered for row in leaders],
            },
        ],
    }
    rows = [
        {
            "key": row.person_id,
            "rank": rank,
            "person": row.person_id,
            "invitees": row.invitees,
            "ordered": row.ordered,
            "gmv": yuan(row.gmv_fen),
        }
        for rank, row in enumerate(leaders, start=1)
    ]
    return ChartView(
        title=translate(lang, "growth.leaderboard"),
        options=options,
        columns=[
            column("rank", "#"),
            column("person", translate(lang, "col.person")),
            column("invitees", translate(lang, "growth.invitees"), align="right"),
            column("ordered", translate(lang, "growth.ordered"), align="right"),
            column("gmv", translate(lang, "growth.invitee_gmv"), align="right"),
        ],
        rows=rows,
        note=translate(
            lang,
            "growth.k_factor",
            inviters=count(summary.inviters),
            invitees=count(summary.invitees),
            k=f"{summary.k_factor:.2f}",
            k_ordered=f"{summary.k_factor_ordered:.2f}",
        ),
        empty_hint=translate(lang, "growth.no_referrals"),
    )
