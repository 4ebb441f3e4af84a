"""People: find a person by any identifier and read their 360° view."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from starlette.responses import RedirectResponse

from siyu import pipeline
from siyu.collect import normalize
from siyu.collect.models import IdType
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages.person_file import PersonFile, add_note, load_person
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import people as views
from siyu.console.views.common import column, count, yuan
from siyu.console.widgets import chart_card, empty_state, table
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.pipeline.privacy import reveal_identifiers

PERSON_ID = "person_id"


def _search_form(workspace: WorkspaceRef) -> None:
    kinds = {PERSON_ID: t("people.person_id")} | {kind.value: kind.value for kind in IdType}

    async def search() -> None:
        value = (needle.value or "").strip()
        if not value:
            ui.notify(t("people.enter_identifier"), type="warning")
            return
        try:
            if kind.value == PERSON_ID:
                found = await state.call(
                    pipeline.get_person,
                    runtime=state.runtime(),
                    workspace_id=workspace.id,
                    person_id=value,
                )
            else:
                found = await state.call(
                    pipeline.find_person,
                    runtime=state.runtime(),
                    workspace_id=workspace.id,
                    identifier_type=str(kind.value),
                    identifier=value,
                )
        except (NotFoundError, InvalidInputError):
            ui.notify(t("people.not_found", value=value), type="warning")
            return
        except normalize.FieldError as error:
            ui.notify(t("people.invalid", reason=error.reason), type="warning")
            return
        ui.navigate.to(f"/people/{found.person_id}")

    with ui.row().classes("items-end gap-3"):
        kind = ui.select(kinds, value=IdType.MEMBER_ID.value, label=t("people.identifier_type"))
        kind.classes("w-56").props('data-testid="search-type"')
        needle = (
            ui.input(t("people.identifier")).classes("w-72").props('data-testid="search-value"')
        )
        needle.on("keydown.enter", search)
        ui.button(t("people.search"), icon="search", on_click=search).props(
            'color=teal-9 data-testid="search-submit"'
        )


@ui.page("/people")
def people_page() -> RedirectResponse | None:
    """Search for a person."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/people", "nav.people") as workspace:
        _search_form(workspace)
        empty_state(t("people.search_title"), t("people.search_hint"), testid="people-hint")
    return None


def _table(columns: list[dict[str, Any]], rows: list[dict[str, Any]], testid: str) -> None:
    table(columns, rows, testid=testid)


def _section(title: str, testid: str) -> ui.card:
    card = ui.card().classes("w-full").props(f'data-testid="{testid}"')
    with card:
        ui.label(title).classes("text-base font-medium")
    return card


def _summary(file: PersonFile, zone: str) -> None:
    profile = file.person.profile
    with _section(t("people.summary"), "person-summary"):
        ui.label(file.person.person_id).classes("font-mono text-sm")
        if profile is None:
            ui.label(t("people.no_events")).classes("text-grey-7")
            return
        facts = [
            (t("people.first_seen"), views.local_time(profile.first_seen, zone)),
            (t("people.last_seen"), views.local_time(profile.last_seen, zone)),
            (t("people.first_channel"), profile.first_channel or "—"),
            (t("people.events"), count(profile.event_count)),
            (t("people.orders"), count(profile.order_count)),
            (t("people.total_spend"), yuan(profile.total_spend_fen)),
        ]
        with ui.grid(columns=2).classes("w-full gap-x-6 gap-y-1"):
            for label, value in facts:
                ui.label(label).classes("text-sm text-grey-7")
                ui.label(value).classes("text-sm")


def _identities(file: PersonFile, workspace: WorkspaceRef) -> None:
    zone = workspace.timezone
    with _section(t("people.identities"), "person-identities"):
        grid = table(
            [
                column("type", t("col.type")),
                column("value", t("col.value")),
                column("first_seen", t("people.first_seen")),
            ],
            views.identifier_rows(file.person.identifiers, zone),
            testid="identifiers",
        )
        if workspace.may("persons:pii"):
            _unmask_button(file.person.person_id, workspace, grid)
        merged = file.person.merged_person_ids
        ui.label(t("people.merged", n=len(merged))).classes("text-sm text-grey-7")
        for person_id in merged:
            ui.label(person_id).classes("font-mono text-xs")


def _unmask_button(person_id: str, workspace: WorkspaceRef, grid: ui.table) -> None:
    """Identifiers in clear for a role holding persons:pii; the view is audited first, as the
    API's GET /api/persons/{id}/identifiers/unmasked does."""

    async def reveal() -> None:
        if not state.require("persons:pii"):
            return
        found = await state.call(
            reveal_identifiers,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            person_id=person_id,
            actor=f"user:{workspace.user_id}",
            now=utcnow(),
        )
        grid.update_rows(views.clear_identifier_rows(found, workspace.timezone))
        ui.notify(t("people.unmasked"), type="info")
        button.set_visibility(False)

    button = ui.button(t("people.unmask"), icon="visibility", on_click=reveal)
    button.props('flat dense color=teal-9 data-testid="unmask"')


def _tags_and_notes(file: PersonFile, workspace: WorkspaceRef, zone: str) -> None:
    with _section(t("people.tags_notes"), "person-tags"):
        if not file.tags:
            ui.label(t("people.no_tags")).classes("text-sm text-grey-7")
        with ui.row().classes("gap-1"):
            for tag in file.tags:
                ui.chip(f"{tag.group} / {tag.tag}").props("dense color=teal-1 text-color=teal-10")
        for note in file.notes:
            ui.label(f"{views.local_time(note.created_at, zone)} · {note.text}").classes("text-sm")
        if not state.may("tags:write"):
            return
        text = ui.input(t("people.note")).classes("w-full").props('data-testid="note-text"')

        async def save() -> None:
            if not (text.value or "").strip():
                return
            await state.call(
                add_note,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                person_id=file.person.person_id,
                text=text.value.strip(),
                now=utcnow(),
            )
            ui.navigate.reload()

        ui.button(t("people.add_note"), on_click=save).props("flat dense color=teal-9")


def _layers_and_loyalty(file: PersonFile, zone: str) -> None:
    with _section(t("people.loyalty"), "person-loyalty"):
        if file.transitions:
            latest = {}
            for move in reversed(file.transitions):
                latest[move.dimension] = move.to_value
            for dimension, value in latest.items():
                ui.label(f"{t('people.dimension.' + dimension)}: {value}").classes("text-sm")
        rfm = [tag.tag for tag in file.tags if tag.group.upper() == "RFM"]
        ui.label(f"RFM: {', '.join(rfm) or '—'}").classes("text-sm")
        if file.member is None:
            ui.label(t("people.not_member")).classes("text-sm text-grey-7")
        else:
            tier = file.tier_name or file.member.tier
            ui.label(t("people.tier", tier=tier, growth=file.member.growth)).classes("text-sm")
        ui.label(t("people.balance", points=count(file.balance or 0))).classes("text-sm")
        _table(
            [
                column("time", t("col.time")),
                column("kind", t("col.kind")),
                column("amount", t("col.points"), align="right"),
                column("reason", t("col.reason")),
            ],
            [
                {
                    "key": entry.id,
                    "time": views.local_time(entry.created_at, zone),
                    "kind": entry.kind,
                    "amount": entry.amount,
                    "reason": entry.reason,
                }
                for entry in file.ledger
            ],
            "ledger",
        )
        ui.label(t("people.coupons", n=len(file.coupons))).classes("text-sm")
        for coupon in file.coupons[:10]:
            ui.label(
                f"{coupon.template_id} · {t('coupon.' + coupon.status.value)} · "
                f"{views.local_time(coupon.valid_until, zone)}"
            ).classes("text-xs")


def _messages(file: PersonFile, zone: str) -> None:
    with _section(t("people.messages"), "person-messages"):
        if not file.messages:
            ui.label(t("people.no_messages")).classes("text-sm text-grey-7")
            return
        _table(
            [
                column("time", t("col.time")),
                column("channel", t("col.channel")),
                column("template", t("people.template")),
                column("source", t("people.source")),
                column("status", t("people.status")),
            ],
            [
                {
                    "key": message.id,
                    "time": views.local_time(message.created_at, zone),
                    "channel": message.channel.value,
                    "template": message.template,
                    "source": message.source,
                    "status": message.status.value
                    + (f" · {message.reason.value}" if message.reason else ""),
                }
                for message in file.messages
            ],
            "messages",
        )


def _timeline(file: PersonFile, zone: str) -> None:
    with _section(t("people.timeline"), "person-timeline"):
        _table(
            [
                column("time", t("col.time")),
                column("event", t("col.event")),
                column("detail", t("col.detail")),
                column("revenue", t("col.revenue"), align="right"),
            ],
            views.event_rows(file.events, zone),
            "timeline",
        )


def _draw(file: PersonFile, workspace: WorkspaceRef) -> None:
    zone = workspace.timezone
    lang = state.language()
    with ui.grid(columns=2).classes("w-full gap-4"):
        _summary(file, zone)
        _identities(file, workspace)
        if file.person.profile is not None:
            with _section(t("people.traits"), "person-traits"):
                _table(
                    [column("name", t("col.name")), column("value", t("col.value"))],
                    views.trait_rows(file.person.profile.traits),
                    "traits",
                )
        _tags_and_notes(file, workspace, zone)
        _layers_and_loyalty(file, zone)
        chart_card(
            views.referral_tree(file.person.person_id, file.ancestors, file.subtree, lang),
            testid="referral-tree",
            height="260px",
        )
    _messages(file, zone)
    _timeline(file, zone)


@ui.page("/people/{person_id}")
def person_page(person_id: str) -> RedirectResponse | None:
    """A person's 360° view."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/people", "people.view_title") as workspace:
        _search_form(workspace)
        body = ui.column().classes("w-full")
        with body:
            ui.spinner(size="lg")

        async def fill() -> None:
            try:
                file = await state.call(
                    load_person,
                    runtime=state.runtime(),
                    workspace_id=workspace.id,
                    person_id=person_id,
                    now=utcnow(),
                )
            except NotFoundError:
                body.clear()
                with body:
                    empty_state(t("people.not_found", value=person_id), t("people.search_hint"))
                return
            body.clear()
            with body:
                _draw(file, workspace)

        ui.timer(0.01, fill, once=True)
    return None
