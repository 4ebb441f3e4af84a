"""The team page's personal-information tab (PIPL data-subject requests): find a person as the
People page does, download everything held about them as JSON, or erase them everywhere after
typing their person id — then the signed receipt. Both are audited by the pipeline, as over the
API."""

from __future__ import annotations

from nicegui import ui

from siyu.collect import normalize
from siyu.collect.models import IdType
from siyu.console import state
from siyu.console.pages import team_load as load
from siyu.console.pages.channel_forms import problem
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import people as people_views
from siyu.console.views import team as views
from siyu.console.views.common import column
from siyu.console.widgets import empty_state, table
from siyu.core.clock import utcnow
from siyu.core.errors import NotFoundError, SiyuError
from siyu.core.ids import new_id
from siyu.pipeline.persons import PersonView
from siyu.privacy.models import ErasureReceipt

EXPORT = "persons:export"
ERASE = "persons:erase"
PERSON_ID = "person_id"


def _operator(workspace: WorkspaceRef) -> load.Operator:
    return load.Operator(user_id=workspace.user_id, role=workspace.role)


def _receipt(box: ui.column, receipt: ErasureReceipt, zone: str) -> None:
    box.clear()
    with box, ui.card().classes("w-full").props('data-testid="dsr-receipt"'):
        ui.label(t("privacy.receipt")).classes("text-base font-medium")
        with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
            for key, value in views.receipt_facts(receipt, zone):
                ui.label(t(key)).classes("text-sm text-grey-7")
                ui.label(value).classes("text-sm font-mono break-all")
        cols = [column("table", t("privacy.col.table")), column("rows", t("privacy.col.rows"))]
        table(cols, views.receipt_rows(receipt), testid="dsr-receipt-counts", pagination=0)
        ui.button(
            t("privacy.download_receipt"),
            icon="download",
            on_click=lambda: ui.download.content(
                receipt.model_dump_json(indent=2).encode(),
                f"siyu-erasure-{receipt.id}.json",
                "application/json",
            ),
        ).props('flat color=teal-9 data-testid="dsr-receipt-download"')
        ui.label(t("privacy.receipt_note")).classes("text-xs text-grey-7")


def _erase_dialog(workspace: WorkspaceRef, person_id: str, box: ui.column, actions: ui.row) -> None:
    request_key = new_id("console-erase")  # a second click answers the same receipt

    async def erase() -> None:
        if not state.require(ERASE):
            return
        if (typed.value or "").strip() != person_id:
            ui.notify(t("privacy.type_to_confirm", person_id=person_id), type="warning")
            return
        dialog.close()
        try:
            receipt = await state.call(
                load.erase_person, runtime=state.runtime(), workspace_id=workspace.id,
                person_id=person_id, by=_operator(workspace), now=utcnow(), request_key=request_key,
            )  # fmt: skip
        except SiyuError as error:
            ui.notify(problem(error), type="warning")
            return
        ui.notify(t("privacy.erased"), type="positive")
        actions.set_visibility(False)  # the person is gone: nothing left to export or erase
        _receipt(box, receipt, workspace.timezone)

    with ui.dialog() as dialog, ui.card().classes("w-[32rem]"):
        ui.label(t("privacy.erase_warning")).classes("text-negative")
        ui.label(t("privacy.type_to_confirm", person_id=person_id))
        typed = ui.input(t("privacy.person_id")).classes("w-full")
        typed.props('data-testid="dsr-erase-typed"')
        with ui.row():
            ui.button(t("channels.cancel"), on_click=dialog.close).props("flat")
            ui.button(t("privacy.erase"), on_click=erase).props(
                'color=negative data-testid="dsr-erase-confirm"'
            )
    dialog.open()


def _person(workspace: WorkspaceRef, found: PersonView, box: ui.column) -> None:
    box.clear()
    with box, ui.card().classes("w-full").props('data-testid="dsr-person"'):
        ui.label(found.person_id).classes("font-mono text-sm").props('data-testid="dsr-person-id"')
        cols = [column("type", t("col.type")), column("value", t("col.value"))]
        rows = people_views.identifier_rows(found.identifiers, workspace.timezone)
        table(cols, rows, testid="dsr-identifiers", pagination=0)
        merged = len(found.merged_person_ids)
        ui.label(t("people.merged", n=merged)).classes("text-sm text-grey-7")
        actions = ui.row().classes("gap-3")
        outcome = ui.column().classes("w-full")  # the receipt, under the buttons
        with actions:
            if workspace.may(EXPORT):

                async def export() -> None:
                    if not state.require(EXPORT):
                        return
                    try:
                        file = await state.call(
                            load.export_person, runtime=state.runtime(),
                            workspace_id=workspace.id, person_id=found.person_id,
                            by=_operator(workspace), now=utcnow(),
                        )  # fmt: skip
                    except SiyuError as error:
                        ui.notify(problem(error), type="warning")
                        return
                    ui.download.content(file.content, file.filename, "application/json")
                    ui.notify(t("privacy.exported"), type="positive")

                ui.button(t("privacy.export"), icon="download", on_click=export).props(
                    'color=teal-9 data-testid="dsr-export"'
                )
            if workspace.may(ERASE):
                ui.button(
                    t("privacy.erase"),
                    icon="delete_forever",
                    on_click=lambda: _erase_dialog(workspace, found.person_id, outcome, actions),
                ).props('outline color=negative data-testid="dsr-erase"')


def _search(workspace: WorkspaceRef, box: ui.column) -> None:
    kinds = {PERSON_ID: t("people.person_id")} | {kind.value: kind.value for kind in IdType}

    async def find() -> None:
        value = (needle.value or "").strip()
        if not value:
            ui.notify(t("people.enter_identifier"), type="warning")
            return
        try:
            found = await state.call(
                load.find_person, runtime=state.runtime(), workspace_id=workspace.id,
                kind=str(kind.value), value=value,
            )  # fmt: skip
        except NotFoundError:
            ui.notify(t("people.not_found", value=value), type="warning")
            return
        except normalize.FieldError as error:
            ui.notify(t("people.invalid", reason=error.reason), type="warning")
            return
        _person(workspace, found, box)

    with ui.row().classes("items-end gap-3"):
        kind = ui.select(kinds, value=IdType.MEMBER_ID.value, label=t("people.identifier_type"))
        kind.classes("w-56").props('data-testid="dsr-kind"')
        needle = ui.input(t("people.identifier")).classes("w-72").props('data-testid="dsr-value"')
        needle.on("keydown.enter", find)
        ui.button(t("people.search"), icon="search", on_click=find).props(
            'color=teal-9 data-testid="dsr-find"'
        )


def privacy_panel(workspace: WorkspaceRef) -> None:
    """Export and erasure for a role holding persons:export or persons:erase."""
    if not (workspace.may(EXPORT) or workspace.may(ERASE)):
        empty_state(t("access.denied", permission=f"{EXPORT} / {ERASE}"), t("team.ask_owner"))
        return
    ui.label(t("privacy.intro")).classes("text-sm text-grey-8")
    box = ui.column().classes("w-full gap-3")
    _search(workspace, box)
    box.move(target_index=-1)
