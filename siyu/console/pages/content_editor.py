"""The content page's editor: create an item, edit it (fields and one variant per channel)
with the version check, archive it, and make a sharer's tracked link with its poster QR."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from siyu.console import state
from siyu.console.pages import content_load as load
from siyu.console.pages.channel_forms import problem
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import content_form as form_views
from siyu.console.views.content import channel_label
from siyu.console.views.people import local_time
from siyu.content.models import (
    VARIANT_CHANNELS,
    Content,
    ContentKind,
    ContentStatus,
    LinkCreate,
)
from siyu.core.clock import utcnow
from siyu.core.errors import ConflictError, SiyuError

WRITE = "content:write"
NEW = "__new__"
LINK_CHANNELS = ("share", "poster", *VARIANT_CHANNELS)
Refresh = Callable[[], Awaitable[None]]


class Editor:
    """The form's inputs and which item (at which version) it edits."""

    def __init__(self, workspace: WorkspaceRef, refresh: Refresh) -> None:
        self.workspace = workspace
        self.refresh = refresh
        self.inputs: dict[str, Any] = {}
        self.content_id: str | None = None
        self.version = 0
        self.pick: Any = None
        self.about: ui.label | None = None
        self.result: ui.label | None = None
        self.archive_button: ui.button | None = None

    # -- showing --------------------------------------------------------------------------

    def say(self, text: str, *, good: bool) -> None:
        assert self.result is not None
        self.result.set_text(text)
        self.result.classes(replace="text-sm " + ("text-positive" if good else "text-negative"))

    def show(self, item: Content | None) -> None:
        """Fill the form with ``item`` (None: a blank new item)."""
        values = form_views.form_values(item) if item else form_views.blank_values()
        for key, field in self.inputs.items():
            field.value = values.get(key, "")
        self.content_id = item.id if item else None
        self.version = item.version if item else 0
        self.inputs["kind"].set_enabled(item is None)
        assert self.about is not None and self.archive_button is not None
        self.archive_button.set_visibility(item is not None)
        self.about.set_text(
            t(
                "content.edit.version",
                version=item.version,
                by=item.updated_by,
                at=local_time(item.updated_at, self.workspace.timezone),
            )
            if item
            else t("content.edit.new_hint")
        )

    async def open(self, content_id: str) -> None:
        """Load the chosen item as stored now (its version guards the next save)."""
        if content_id == NEW:
            self.show(None)
            return
        try:
            item = await state.call(
                load.get,
                runtime=state.runtime(),
                workspace_id=self.workspace.id,
                content_id=content_id,
            )
        except SiyuError as error:
            self.say(problem(error), good=False)
            return
        self.show(item)

    def values(self) -> dict[str, Any]:
        return {key: field.value for key, field in self.inputs.items()}

    # -- saving ---------------------------------------------------------------------------

    async def _saved(self, item: Content, message: str) -> None:
        self.say(message, good=True)
        options = {**self.pick.options, item.id: item.title}
        self.pick.set_options(options, value=item.id)
        self.show(item)
        await self.refresh()

    def _failed(self, error: ValidationError | SiyuError) -> None:
        if isinstance(error, ConflictError):
            self.say(t("content.edit.conflict", message=error.message), good=False)
        else:
            self.say(problem(error), good=False)

    async def save(self) -> None:
        if not state.require(WRITE):
            return
        ws, by, now = self.workspace.id, self.workspace.user_id, utcnow()
        try:
            if self.content_id is None:
                item = await state.call(
                    load.create,
                    runtime=state.runtime(),
                    workspace_id=ws,
                    item=form_views.item_from_form(self.values()),
                    by=by,
                    now=now,
                )
                message = t("content.edit.created", title=item.title)
            else:
                item = await state.call(
                    load.update,
                    runtime=state.runtime(),
                    workspace_id=ws,
                    content_id=self.content_id,
                    version=self.version,
                    changes=form_views.update_from_form(self.values()),
                    by=by,
                    now=now,
                )
                message = t("content.edit.saved", version=item.version)
        except (ValidationError, SiyuError) as error:
            self._failed(error)
            return
        await self._saved(item, message)

    async def archive(self) -> None:
        if not state.require(WRITE) or self.content_id is None:
            return
        try:
            item = await state.call(
                load.archive,
                runtime=state.runtime(),
                workspace_id=self.workspace.id,
                content_id=self.content_id,
                version=self.version,
                by=self.workspace.user_id,
                now=utcnow(),
            )
        except SiyuError as error:
            self._failed(error)
            return
        await self._saved(item, t("content.edit.archived", title=item.title))


def _item_inputs(editor: Editor) -> None:
    kinds = {k.value: t(f"content.kind.{k.value}") for k in ContentKind}
    statuses = {s.value: t(f"content.status.{s.value}") for s in ContentStatus}
    inputs = editor.inputs
    with ui.row().classes("items-end gap-3 w-full"):
        inputs["kind"] = (
            ui.select(kinds, value="article", label=t("content.col.kind"))
            .classes("w-36")
            .props('data-testid="content-kind"')
        )
        inputs["title"] = (
            ui.input(t("content.col.title")).classes("w-80").props('data-testid="content-title"')
        )
        inputs["status"] = ui.select(statuses, value="draft", label=t("content.col.status"))
        inputs["status"].classes("w-32").props('data-testid="content-status"')
        inputs["tags"] = ui.input(t("content.edit.tags")).classes("w-64")
    inputs["body"] = (
        ui.textarea(t("content.edit.body")).classes("w-full").props('data-testid="content-body"')
    )
    with ui.row().classes("items-end gap-3 w-full"):
        inputs["url"] = (
            ui.input(t("content.edit.url")).classes("w-96").props('data-testid="content-url"')
        )
        inputs["media_path"] = ui.input(t("content.edit.media_path")).classes("w-96")


def _variant_inputs(editor: Editor) -> None:
    lang = state.language()
    with (
        ui.expansion(t("content.edit.variants"), icon="tune")
        .classes("w-full")
        .props('data-testid="content-variants"')
    ):
        ui.label(t("content.edit.variants_hint")).classes("text-xs text-grey-7")
        for channel in VARIANT_CHANNELS:
            ui.label(channel_label(channel, lang)).classes("text-sm font-medium")
            with ui.row().classes("items-end gap-3 w-full"):
                for field in form_views.variant_fields(channel):
                    key = form_views.form_key(channel, field)
                    make = ui.textarea if field in form_views.LONG_FIELDS else ui.input
                    editor.inputs[key] = (
                        make(t(f"content.field.{field}"))
                        .classes("w-96" if field in form_views.LONG_FIELDS else "w-56")
                        .props(f'dense data-testid="variant-{channel}-{field}"')
                    )


def _link_maker(editor: Editor) -> None:
    lang = state.language()
    ui.label(t("content.link.title")).classes("text-base font-medium")
    with ui.row().classes("items-end gap-3"):
        channel = (
            ui.select(
                {c: channel_label(c, lang) for c in LINK_CHANNELS},
                value="poster",
                label=t("content.col.channel"),
            )
            .classes("w-40")
            .props('data-testid="content-link-channel"')
        )
        sharer = (
            ui.input(t("content.link.sharer"))
            .classes("w-64")
            .props('data-testid="content-link-sharer"')
        )
    shown = ui.row().classes("items-center gap-4")

    async def make() -> None:
        if not state.require(WRITE):
            return
        if editor.content_id is None:
            editor.say(t("content.link.pick_first"), good=False)
            return
        try:
            link = LinkCreate(channel=channel.value, sharer_id=(sharer.value or "").strip() or None)
            made = await state.call(
                load.tracked_link,
                runtime=state.runtime(),
                workspace_id=editor.workspace.id,
                content_id=editor.content_id,
                link=link,
                now=utcnow(),
            )
        except (ValidationError, SiyuError) as error:
            editor.say(problem(error), good=False)
            return
        shown.clear()
        with shown:
            ui.image(made.qr_data_url).classes("w-36 h-36").props('data-testid="content-link-qr"')
            with ui.column().classes("gap-1"):
                ui.label(made.link.url).classes("font-mono text-sm").props(
                    'data-testid="content-link-url"'
                )
                ui.label(
                    t(
                        "content.link.about",
                        channel=channel_label(made.link.channel, lang),
                        sharer=made.link.sharer_id or t("content.link.brand"),
                        depth=made.link.depth,
                    )
                ).classes("text-xs text-grey-7")

    ui.button(t("content.link.make"), icon="qr_code_2", on_click=make).props(
        'color=teal-9 data-testid="content-link-make"'
    )


def draw(workspace: WorkspaceRef, library: list[Content], refresh: Refresh) -> None:
    """The editor card (for roles with content:write)."""
    editor = Editor(workspace, refresh)
    with ui.card().classes("w-full").props('data-testid="content-editor"'):
        ui.label(t("content.edit.title")).classes("text-base font-medium")
        options = {NEW: t("content.edit.new")} | {i.id: i.title for i in library}
        editor.pick = (
            ui.select(
                options,
                value=NEW,
                label=t("content.edit.pick"),
                with_input=True,
                on_change=lambda e: editor.open(str(e.value)),
            )
            .classes("w-96")
            .props('data-testid="content-pick"')
        )
        editor.about = (
            ui.label("").classes("text-xs text-grey-7").props('data-testid="content-version"')
        )
        _item_inputs(editor)
        _variant_inputs(editor)
        editor.result = ui.label("").classes("text-sm").props('data-testid="content-editor-result"')
        with ui.row().classes("gap-2"):
            ui.button(t("content.edit.save"), icon="save", on_click=editor.save).props(
                'color=teal-9 data-testid="content-save"'
            )
            editor.archive_button = ui.button(
                t("content.edit.archive"), icon="archive", on_click=editor.archive
            ).props('outline color=negative data-testid="content-archive"')
        editor.show(None)
        ui.separator()
        _link_maker(editor)
