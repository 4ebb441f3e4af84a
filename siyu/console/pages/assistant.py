"""The assistant's knowledge base: Q&A (search, add, edit, delete, CSV import), keyword rules,
questions handed over (turn one into a Q&A), and a box to try a question."""

from __future__ import annotations

from typing import Any

from nicegui import events, ui
from pydantic import ValidationError
from starlette.responses import RedirectResponse

from siyu.assistant.models import RuleCreate
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import assistant_load as load
from siyu.console.pages.channel_forms import problem
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import assistant as views
from siyu.console.widgets import table
from siyu.core.clock import utcnow
from siyu.core.errors import SiyuError

WRITE = "assistant:write"


def _card(title: str, testid: str) -> ui.card:
    card = ui.card().classes("w-full").props(f'data-testid="{testid}"')
    with card:
        ui.label(title).classes("text-base font-medium")
    return card


def _try_box(workspace: WorkspaceRef) -> None:
    with _card(t("kb.try"), "kb-try"):
        with ui.row().classes("w-full items-end gap-3"):
            question = ui.input(t("kb.question")).classes("w-96").props('data-testid="kb-ask"')
            button = ui.button(t("kb.ask"), icon="send").props(
                'color=teal-9 data-testid="kb-ask-submit"'
            )
        shown = ui.column().classes("gap-1").props('data-testid="kb-reply"')

    async def ask() -> None:
        text = (question.value or "").strip()
        if not text:
            return
        reply = await state.call(
            load.ask, runtime=state.runtime(), workspace_id=workspace.id, question=text
        )
        found = views.verdict(reply, state.language())
        shown.clear()
        with shown:
            ui.label(found["answer"]).classes("text-sm").props('data-testid="kb-answer"')
            ui.label(
                t(
                    "kb.verdict",
                    confidence=found["confidence"],
                    outcome=found["outcome"],
                    handover=found["handover"],
                    source=found["source"],
                )
            ).classes("text-xs text-grey-7").props('data-testid="kb-verdict"')

    button.on_click(ask)
    question.on("keydown.enter", ask)


def _entries(workspace: WorkspaceRef, board: load.Knowledge, refill: Any) -> dict[str, Any]:
    zone, lang = workspace.timezone, state.language()
    writable = workspace.may(WRITE)
    with _card(t("kb.entries", n=len(board.entries)), "kb-entries"):
        search = ui.input(t("kb.search")).props('clearable data-testid="kb-search"')
        grid = table(
            views.entry_columns(lang), views.entry_rows(board.entries, zone), testid="kb-table"
        )
        grid.bind_filter_from(search, "value")
        if not writable:
            return {"id": None}
        return _entry_form(workspace, board, grid, refill)


def _entry_form(
    workspace: WorkspaceRef, board: load.Knowledge, grid: ui.table, refill: Any
) -> dict[str, Any]:
    """The add / edit form under the entry table (click a row to edit it)."""
    form: dict[str, Any] = {"id": None}
    ui.label(t("kb.edit_hint")).classes("text-xs text-grey-7")
    form["question"] = ui.input(t("kb.question")).classes("w-full")
    form["question"].props('data-testid="kb-question"')
    form["alternatives"] = ui.input(t("kb.alternatives")).classes("w-full")
    form["answer"] = ui.textarea(t("kb.answer")).classes("w-full")
    form["answer"].props('data-testid="kb-answer-input"')
    form["tags"] = ui.input(t("kb.tags")).classes("w-full")
    result = ui.label("").classes("text-sm").props('data-testid="kb-result"')
    by_id = {entry.id: entry for entry in board.entries}

    def load_row(event: Any) -> None:
        found = by_id.get(event.args[1]["key"]) if len(event.args) > 1 else None
        if found is None:
            return
        form["id"] = found.id
        form["question"].value, form["answer"].value = found.question, found.answer
        form["alternatives"].value = f" {views.SEPARATOR} ".join(found.alternatives)
        form["tags"].value = f" {views.SEPARATOR} ".join(found.tags)

    grid.on("rowClick", load_row)

    async def save() -> None:
        if not state.require(WRITE):
            return
        try:
            entry = views.entry_from_form(
                *(form[n].value or "" for n in ("question", "alternatives", "answer", "tags"))
            )
            await state.call(
                load.save_entry,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                entry_id=form["id"],
                entry=entry,
                now=utcnow(),
            )
        except (ValidationError, SiyuError) as error:
            result.set_text(problem(error))
            result.classes(replace="text-sm text-negative")
            return
        ui.notify(t("kb.saved"), type="positive")
        await refill()

    async def delete() -> None:
        if not state.require(WRITE) or form["id"] is None:
            return
        await state.call(
            load.delete_entry,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            entry_id=form["id"],
        )
        ui.notify(t("kb.deleted"), type="positive")
        await refill()

    def clear() -> None:
        form["id"] = None
        for name in ("question", "alternatives", "answer", "tags"):
            form[name].value = ""

    with ui.row().classes("gap-2"):
        ui.button(t("kb.save"), icon="save", on_click=save).props(
            'color=teal-9 data-testid="kb-save"'
        )
        ui.button(t("kb.new"), icon="add", on_click=clear).props("flat color=teal-9")
        ui.button(t("kb.delete"), icon="delete", on_click=delete).props(
            'outline color=negative data-testid="kb-delete"'
        )
    return form


def _import(workspace: WorkspaceRef, refill: Any, kept: dict[str, str]) -> None:
    # ``kept`` outlives the redraw an import triggers (the whole body is drawn again with
    # the new entries), so the result stays on the page.
    with _card(t("kb.import"), "kb-import"):
        ui.label(t("kb.import_hint")).classes("text-xs text-grey-7")
        result = (
            ui.label(kept.get("import", ""))
            .classes("text-sm")
            .props('data-testid="kb-import-result"')
        )

        async def upload(event: events.UploadEventArguments) -> None:
            if not state.require(WRITE):
                return
            data = await event.file.read()
            try:
                done = await state.call(
                    load.import_csv,
                    runtime=state.runtime(),
                    workspace_id=workspace.id,
                    data=data,
                    now=utcnow(),
                )
            except SiyuError as error:
                result.set_text(problem(error))
                return
            rejected = "; ".join(done.rejected[:5])
            kept["import"] = t(
                "kb.imported",
                created=done.created,
                updated=done.updated,
                rejected=len(done.rejected),
            ) + (f" — {rejected}" if rejected else "")
            result.set_text(kept["import"])
            await refill()

        ui.upload(on_upload=upload, auto_upload=True, max_file_size=2 * 1024 * 1024).props(
            'accept=".csv" data-testid="kb-upload"'
        ).classes("w-80")


def _rules(workspace: WorkspaceRef, board: load.Knowledge, refill: Any) -> None:
    with _card(t("kb.rules"), "kb-rules"):
        grid = table(
            views.rule_columns(state.language()),
            views.rule_rows(board.rules),
            testid="kb-rule-table",
        )
        if not workspace.may(WRITE):
            return
        with ui.row().classes("items-end gap-3"):
            pattern = ui.input(t("kb.col.pattern")).props('data-testid="kb-rule-pattern"')
            regex = ui.switch(t("kb.col.regex"))
            answer = ui.input(t("kb.answer")).classes("w-96").props('data-testid="kb-rule-answer"')
            priority = ui.number(t("kb.col.priority"), value=0, precision=0).classes("w-24")
        result = ui.label("").classes("text-sm text-negative")
        picked: dict[str, str | None] = {"id": None}
        grid.on("rowClick", lambda e: picked.update(id=e.args[1]["key"]))

        async def add() -> None:
            if not state.require(WRITE):
                return
            try:
                rule = RuleCreate(
                    pattern=pattern.value or "",
                    is_regex=bool(regex.value),
                    answer=answer.value or "",
                    priority=int(priority.value or 0),
                )
                await state.call(
                    load.add_rule,
                    runtime=state.runtime(),
                    workspace_id=workspace.id,
                    rule=rule,
                    now=utcnow(),
                )
            except (ValidationError, SiyuError) as error:
                result.set_text(problem(error))
                return
            await refill()

        async def remove() -> None:
            if not state.require(WRITE) or picked["id"] is None:
                return
            await state.call(
                load.delete_rule,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                rule_id=picked["id"],
            )
            await refill()

        with ui.row().classes("gap-2"):
            ui.button(t("kb.add_rule"), icon="add", on_click=add).props(
                'color=teal-9 data-testid="kb-rule-add"'
            )
            ui.button(t("kb.delete_rule"), icon="delete", on_click=remove).props(
                "outline color=negative"
            )


def _unanswered(workspace: WorkspaceRef, board: load.Knowledge, form: dict[str, Any]) -> None:
    with _card(t("kb.unanswered"), "kb-unanswered"):
        ui.label(t("kb.unanswered_hint")).classes("text-xs text-grey-7")
        grid = table(
            views.unanswered_columns(state.language()),
            views.unanswered_rows(board.unanswered, workspace.timezone),
            testid="kb-unanswered-table",
        )
        if "question" not in form:
            return

        def adopt(event: Any) -> None:
            form["id"] = None
            form["question"].value = event.args[1]["question"]
            form["answer"].value = ""
            form["question"].run_method("focus")

        grid.on("rowClick", adopt)


def _draw(workspace: WorkspaceRef, body: ui.column) -> None:
    kept: dict[str, str] = {}

    async def fill() -> None:
        board = await state.call(load.board, runtime=state.runtime(), workspace_id=workspace.id)
        body.clear()
        with body:
            _try_box(workspace)
            form = _entries(workspace, board, fill)
            _unanswered(workspace, board, form)
            _rules(workspace, board, fill)
            if workspace.may(WRITE):
                _import(workspace, fill, kept)

    ui.timer(0.01, fill, once=True)


@ui.page("/assistant")
def assistant_page() -> RedirectResponse | None:
    """The knowledge base, keyword rules, unanswered questions and a try-a-question box."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/assistant", "nav.assistant") as workspace:
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")
        _draw(workspace, body)
    return None
