"""Loyalty and growth: tiers and their distribution, earn rules, a member's points ledger,
coupons, the points mall; live codes with their QR images and the referral leaderboard."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from starlette.responses import RedirectResponse

from siyu.collect import normalize
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import loyalty_load as load
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import loyalty as views
from siyu.console.views.common import column, count, yuan
from siyu.console.views.people import local_time
from siyu.console.widgets import chart_card, empty_state, table
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError, NotFoundError


def _card(title: str, testid: str) -> ui.card:
    card = ui.card().classes("w-full").props(f'data-testid="{testid}"')
    with card:
        ui.label(title).classes("text-base font-medium")
    return card


def _table(columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    table(columns, rows)


def _tiers(programme: load.Programme) -> None:
    with _card(t("loyalty.tiers"), "tiers"):
        if programme.ladder is None:
            empty_state(t("loyalty.no_tiers"), t("loyalty.no_tiers_hint"))
            return
        _table(
            [
                column("tier", t("col.tier")),
                column("min_growth", t("loyalty.min_growth"), align="right"),
                column("multiplier", t("loyalty.multiplier"), align="right"),
                column("birthday", t("loyalty.birthday_points"), align="right"),
            ],
            [
                {
                    "key": tier.code,
                    "tier": tier.name,
                    "min_growth": tier.min_growth,
                    "multiplier": f"{tier.points_multiplier_pct / 100:.2f}×",
                    "birthday": tier.birthday_points,
                }
                for tier in programme.ladder.tiers
            ],
        )
        rules = programme.rules
        ui.label(
            t(
                "loyalty.rules",
                per_yuan=rules.per_yuan,
                check_in=rules.check_in,
                expiry=rules.expiry,
            )
        ).classes("text-sm text-grey-8")


def _coupons_and_mall(programme: load.Programme, zone: str) -> None:
    with _card(t("loyalty.coupons"), "coupon-templates"):
        if not programme.templates:
            empty_state(t("loyalty.no_coupons"), t("loyalty.no_coupons_hint"))
        else:
            _table(
                [
                    column("name", t("col.name")),
                    column("rule", t("loyalty.rule")),
                    column("issued", t("loyalty.issued"), align="right"),
                    column("created", t("col.time")),
                ],
                [
                    {
                        "key": tpl.id,
                        "name": tpl.name,
                        "rule": _rule(tpl.amount_off_fen, tpl.percent_off, tpl.threshold_fen),
                        "issued": count(tpl.issued),
                        "created": local_time(tpl.created_at, zone),
                    }
                    for tpl in programme.templates
                ],
            )
    with _card(t("loyalty.mall"), "mall"):
        if not programme.items:
            empty_state(t("loyalty.no_items"), t("loyalty.no_items_hint"))
            return
        _table(
            [
                column("name", t("col.name")),
                column("price", t("loyalty.price"), align="right"),
                column("stock", t("loyalty.stock"), align="right"),
            ],
            [
                {
                    "key": item.id,
                    "name": item.name,
                    "price": count(item.price_points),
                    "stock": "∞" if item.stock is None else count(item.stock),
                }
                for item in programme.items
            ],
        )


def _rule(amount_off_fen: int | None, percent_off: int | None, threshold: int) -> str:
    if amount_off_fen:
        return t("loyalty.rule_amount", threshold=yuan(threshold), off=yuan(amount_off_fen))
    return t(
        "loyalty.rule_percent",
        threshold=yuan(threshold),
        percent=percent_off or 0,
        zhe=f"{(100 - (percent_off or 0)) / 10:g}",
    )


def _ledger_lookup(workspace: WorkspaceRef) -> None:
    with _card(t("loyalty.ledger"), "ledger-lookup"):
        result = ui.column().classes("w-full")

        async def show() -> None:
            value = (member.value or "").strip()
            if not value:
                return
            try:
                found = await state.call(
                    load.ledger, runtime=state.runtime(), workspace_id=workspace.id, member_id=value
                )
            except (NotFoundError, InvalidInputError, normalize.FieldError):
                ui.notify(t("people.not_found", value=value), type="warning")
                return
            result.clear()
            with result:
                ui.link(found.person_id, f"/people/{found.person_id}").classes("font-mono text-sm")
                ui.label(t("people.balance", points=count(found.balance))).classes("font-medium")
                _table(
                    [
                        column("time", t("col.time")),
                        column("kind", t("col.kind")),
                        column("amount", t("col.points"), align="right"),
                        column("balance", t("loyalty.balance_after"), align="right"),
                        column("reason", t("col.reason")),
                    ],
                    [
                        {
                            "key": e.id,
                            "time": local_time(e.created_at, workspace.timezone),
                            "kind": e.kind,
                            "amount": e.amount,
                            "balance": e.balance_after,
                            "reason": e.reason,
                        }
                        for e in found.entries
                    ],
                )

        with ui.row().classes("items-end gap-2"):
            member = ui.input(t("loyalty.member_id")).props('data-testid="ledger-member"')
            member.on("keydown.enter", show)
            ui.button(t("people.search"), on_click=show).props("color=teal-9")


@ui.page("/loyalty")
def loyalty_page() -> RedirectResponse | None:
    """Tiers, distribution, rules, ledger lookup, coupons and the mall."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/loyalty", "nav.loyalty") as workspace:
        body = ui.column().classes("w-full")
        with body:
            ui.spinner(size="lg")

        async def fill() -> None:
            programme = await state.call(
                load.programme, runtime=state.runtime(), workspace_id=workspace.id, now=utcnow()
            )
            body.clear()
            with body, ui.grid(columns=2).classes("w-full gap-4"):
                _tiers(programme)
                if programme.distribution is not None:
                    chart_card(
                        views.tiers_view(programme.distribution, state.language()), testid="tiers"
                    )
                _ledger_lookup(workspace)
                _coupons_and_mall(programme, workspace.timezone)

        ui.timer(0.01, fill, once=True)
    return None


def _live_codes(growth: load.Growth) -> None:
    with _card(t("growth.live_codes"), "live-codes"):
        if not growth.codes:
            empty_state(t("growth.no_codes"), t("growth.no_codes_hint"))
            return
        with ui.grid(columns=4).classes("w-full gap-3"):
            for card in growth.codes:
                with ui.card().classes("items-center").props("flat bordered"):
                    ui.image(card.qr_data_url).classes("w-28 h-28").props(
                        f'no-spinner no-transition alt="{card.code.scene}"'
                    )
                    ui.label(card.code.name).classes("font-medium text-sm")
                    ui.label(f"{card.code.channel} · {card.code.scene}").classes("text-xs")
                    stats = card.stats
                    ui.label(
                        t(
                            "growth.code_stats",
                            scans=stats.scans,
                            adds=stats.adds,
                            customers=stats.customers,
                            gmv=yuan(stats.gmv_fen),
                        )
                    ).classes("text-xs text-grey-7")


@ui.page("/growth")
def growth_page() -> RedirectResponse | None:
    """Live codes and their QR images; the referral leaderboard."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/growth", "nav.growth") as workspace:
        body = ui.column().classes("w-full")
        with body:
            ui.spinner(size="lg")

        async def fill() -> None:
            growth = await state.call(
                load.growth, runtime=state.runtime(), workspace_id=workspace.id
            )
            body.clear()
            with body:
                chart_card(
                    views.leaderboard_view(growth.summary, state.language()),
                    testid="leaderboard",
                    height="420px",
                )
                _live_codes(growth)

        ui.timer(0.01, fill, once=True)
    return None
