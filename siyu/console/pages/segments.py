"""Tags and segments: a visual rule builder with a live size preview, saved segments, members
and CSV export, and the workspace's tags."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from nicegui import ui
from nicegui.elements.mixins.value_element import ValueElement
from starlette.responses import RedirectResponse

from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import segment_store as store
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import segments as views
from siyu.console.views.common import column, count
from siyu.console.widgets import empty_state, table
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError, SiyuError
from siyu.segments.models import ComputedName, Condition

EVENT_NAMES = [
    "Order Completed",
    "Product Viewed",
    "Product Added",
    "Signed Up",
    "Coupon Redeemed",
    "Referral Sent",
    "$page",
]


class Builder:
    """The builder's rows and combinator, redrawn on every structural change."""

    def __init__(self, workspace: WorkspaceRef, tag_names: list[str]) -> None:
        self.workspace = workspace
        self.tag_names = tag_names
        self.combinator: Literal["all", "any"] = "all"
        self.rows: list[views.RuleRow] = [
            views.RuleRow(kind="computed", name="order_count", op="gte", value="2")
        ]
        self.timer: ui.timer | None = None
        self.size = ui.label()
        self.problem = ui.label()

    def definition(self) -> Condition:
        return views.definition_of(self.combinator, self.rows)

    def changed(self) -> None:
        """Preview again shortly after the last change (one query per pause in typing)."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer = ui.timer(0.4, self.preview, once=True)

    async def preview(self) -> None:
        try:
            definition = self.definition()
        except InvalidInputError as error:
            self.size.set_text(t("segments.size_unknown"))
            self.problem.set_text(str(error))
            return
        self.size.set_text(t("segments.previewing"))
        try:
            found = await state.call(
                store.preview,
                runtime=state.runtime(),
                workspace_id=self.workspace.id,
                definition=definition,
                now=utcnow(),
            )
        except SiyuError as error:
            self.size.set_text(t("segments.size_unknown"))
            self.problem.set_text(str(error))
            return
        self.problem.set_text("")
        self.size.set_text(t("segments.size", n=count(found.count)))


def _ops(ops: tuple[str, ...]) -> dict[str, str]:
    return {op: t(f"op.{op}") for op in ops}


def _kind_fields(builder: Builder, row: views.RuleRow, on_change: Callable[[], None]) -> None:
    def bind(element: ValueElement[Any], field: str) -> None:
        element.bind_value(row, field)
        element.on_value_change(lambda _: on_change())

    if row.kind == "trait":
        bind(ui.input(t("segments.trait_name")).classes("w-40"), "name")
        bind(ui.select(_ops(views.TRAIT_OPS), label=t("segments.op")).classes("w-28"), "op")
        bind(ui.input(t("segments.value")).classes("w-40"), "value")
    elif row.kind == "computed":
        names = {name.value: t(f"computed.{name.value}") for name in ComputedName}
        bind(ui.select(names, label=t("segments.metric")).classes("w-48"), "name")
        bind(ui.select(_ops(views.COUNT_OPS), label=t("segments.op")).classes("w-24"), "op")
        bind(ui.input(t("segments.value")).classes("w-28"), "value")
    elif row.kind == "tag":
        bind(
            ui.select(builder.tag_names, label=t("segments.tag"), with_input=True).classes("w-64"),
            "name",
        )
    else:
        bind(ui.input(t("segments.event"), autocomplete=EVENT_NAMES).classes("w-44"), "name")
        bind(ui.select(_ops(views.COUNT_OPS), label=t("segments.times")).classes("w-24"), "op")
        bind(ui.input(t("segments.value")).classes("w-20"), "value")
        bind(ui.number(t("segments.days"), min=1, max=3650, precision=0).classes("w-28"), "days")


def _builder_card(builder: Builder, footer: Callable[[], None]) -> None:
    @ui.refreshable
    def rows() -> None:
        for index, row in enumerate(builder.rows):
            with ui.row().classes("items-end gap-2").props(f'data-testid="rule-{index}"'):
                kinds = {kind: t(f"segments.kind.{kind}") for kind in views.KINDS}

                def set_kind(event: object, row: views.RuleRow = row) -> None:
                    row.kind = str(event.value)  # type: ignore[attr-defined,assignment]
                    row.name, row.op, row.value = _defaults(row.kind)
                    rows.refresh()
                    builder.changed()

                ui.select(kinds, value=row.kind, on_change=set_kind).classes("w-32").props(
                    f'data-testid="rule-kind-{index}"'
                )
                _kind_fields(builder, row, builder.changed)

                def remove(index: int = index) -> None:
                    builder.rows.pop(index)
                    rows.refresh()
                    builder.changed()

                ui.button(icon="delete", on_click=remove).props("flat round dense color=grey-7")

    def add() -> None:
        builder.rows.append(
            views.RuleRow(kind="event", name="Order Completed", op="gte", value="1")
        )
        rows.refresh()
        builder.changed()

    def set_combinator(value: str) -> None:
        builder.combinator = "any" if value == "any" else "all"
        builder.changed()

    with ui.card().classes("w-full").props('data-testid="segment-builder"'):
        ui.label(t("segments.builder")).classes("text-base font-medium")
        ui.toggle(
            {"all": t("segments.all"), "any": t("segments.any")},
            value="all",
            on_change=lambda e: set_combinator(str(e.value)),
        ).props('no-caps data-testid="combinator"')
        rows()
        ui.button(t("segments.add_condition"), icon="add", on_click=add).props(
            'flat color=teal-9 data-testid="add-condition"'
        )
        ui.separator()
        footer()


def _defaults(kind: str) -> tuple[str, str, str]:
    return {
        "trait": ("city", "eq", ""),
        "computed": ("order_count", "gte", "1"),
        "tag": ("", "eq", ""),
        "event": ("Order Completed", "gte", "1"),
    }[kind]


def _save_row(builder: Builder, on_saved: Callable[[], Awaitable[None]]) -> None:
    async def save() -> None:
        try:
            definition = builder.definition()
            saved = await state.call(
                store.save,
                runtime=state.runtime(),
                workspace_id=builder.workspace.id,
                name=(name.value or "").strip(),
                definition=definition,
                now=utcnow(),
            )
        except SiyuError as error:
            ui.notify(str(error), type="warning")
            return
        ui.notify(t("segments.saved", name=saved.name, n=count(saved.members)), type="positive")
        await on_saved()

    with ui.row().classes("items-end gap-3") as row:
        builder.size.move(row)
        builder.size.classes("text-xl font-bold text-teal-10 w-48").props(
            'data-testid="segment-size"'
        )
        if state.may("segments:write"):
            name = ui.input(t("segments.name")).classes("w-64")
            name.props('data-testid="segment-name"')
            ui.button(t("segments.save"), icon="save", on_click=save).props(
                'color=teal-9 data-testid="segment-save"'
            )
    with ui.row() as below:
        builder.problem.move(below)
        builder.problem.classes("text-negative text-sm").props('data-testid="segment-problem"')


def _members_dialog(workspace: WorkspaceRef, segment_id: str, name: str) -> None:
    async def export() -> None:
        text = await state.call(
            store.export_csv,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            segment_id=segment_id,
        )
        ui.download.content(text.encode(), f"{name}.csv", "text/csv")

    async def open_members() -> None:
        page = await state.call(
            store.members,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            segment_id=segment_id,
        )
        with ui.dialog() as dialog, ui.card().classes("w-[640px]"):
            ui.label(t("segments.members_of", name=name, n=count(page.total))).classes(
                "text-base font-medium"
            )
            with (
                ui.column()
                .classes("max-h-96 overflow-auto gap-0")
                .props('data-testid="segment-members"')
            ):
                for person_id in page.items:
                    ui.link(person_id, f"/people/{person_id}").classes("font-mono text-sm")
            with ui.row():
                ui.button(t("segments.export"), icon="download", on_click=export).props(
                    'color=teal-9 data-testid="segment-export"'
                )
                ui.button(t("segments.close"), on_click=dialog.close).props("flat")
        dialog.open()

    ui.button(t("segments.members"), on_click=open_members).props("flat dense color=teal-9")


class SavedList:
    """Saved segments and tags, read again after a save.

    The read happens before the old list is cleared, and clearing and drawing run without a
    pause between them, so two reloads at once can never draw the list twice.
    """

    def __init__(self, workspace: WorkspaceRef) -> None:
        self.workspace = workspace
        self.box = ui.column().classes("w-full gap-4")

    async def reload(self) -> None:
        found = await state.call(
            store.listing, runtime=state.runtime(), workspace_id=self.workspace.id
        )
        self.box.clear()
        with self.box:
            _draw_saved(self.workspace, found)


def _draw_saved(workspace: WorkspaceRef, found: store.Listing) -> None:
    with ui.card().classes("w-full").props('data-testid="saved-segments"'):
        ui.label(t("segments.saved_title")).classes("text-base font-medium")
        if not found.segments:
            empty_state(t("segments.none"), t("segments.none_hint"))
        for segment in found.segments:
            with (
                ui.row()
                .classes("w-full items-center justify-between")
                .props(f'data-testid="segment-{segment.id}"')
            ):
                ui.label(segment.name).classes("font-medium")
                ui.label(t("segments.member_count", n=count(segment.members))).classes("text-sm")
                _members_dialog(workspace, segment.id, segment.name)
    with ui.card().classes("w-full").props('data-testid="tags"'):
        ui.label(t("segments.tags_title")).classes("text-base font-medium")
        if not found.tags:
            empty_state(t("segments.no_tags"), t("segments.no_tags_hint"))
            return
        table(
            [
                column("group", t("col.group")),
                column("name", t("col.name")),
                column("kind", t("col.kind")),
                column("persons", t("col.persons"), align="right"),
            ],
            [
                {
                    "key": tag.id,
                    "group": tag.group,
                    "name": tag.name,
                    "kind": tag.kind.value,
                    "persons": tag.persons or 0,
                }
                for tag in found.tags
            ],
        )


@ui.page("/segments")
async def segments_page() -> RedirectResponse | None:
    """Build, preview and save segments; see members; export them."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/segments", "nav.segments") as workspace:
        tag_names = await state.call(
            store.tag_names, runtime=state.runtime(), workspace_id=workspace.id
        )
        lists: list[SavedList] = []  # drawn below the builder, reloaded by its save button
        with ui.column().classes("w-full gap-2"):
            builder = Builder(workspace, tag_names)
            _builder_card(builder, lambda: _save_row(builder, lambda: lists[0].reload()))
        lists.append(SavedList(workspace))
        await lists[0].reload()
        ui.timer(0.01, builder.preview, once=True)
    return None
