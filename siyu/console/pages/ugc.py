"""UGC & KOC (用户内容): the moderation queue (approve pays the reward once, reject with a
reason), reward rules, the KOC board with its tag, and the CSV import."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import events, ui
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse

from siyu.analytics.periods import Period
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import ugc_load as load
from siyu.console.pages.channel_forms import problem
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import ugc as views
from siyu.console.views.people import local_time
from siyu.console.widgets import empty_state, kpi, range_bar, table
from siyu.core.clock import utcnow
from siyu.core.errors import SiyuError
from siyu.ugc.models import DEFAULT_CAMPAIGN, Post, RewardRule

READ = "ugc:read"
WRITE = "ugc:write"
Refresh = Callable[[], Awaitable[None]]


def _say(label: ui.label, text: str, *, good: bool) -> None:
    label.set_text(text)
    label.classes(replace="text-sm " + ("text-positive" if good else "text-negative"))


def _link_or_text(value: str) -> None:
    """A post's URL or image: a link when it is a web address, else plain text."""
    if views.is_web_link(value):
        ui.link(value, value, new_tab=True).classes("text-xs break-all")
    else:
        ui.label(value).classes("text-xs break-all text-grey-7")


def _post_body(post: Post, zone: str) -> None:
    lang = state.language()
    with ui.row().classes("items-center gap-2"):
        ui.link(post.person_id, f"/people/{post.person_id}").props('data-testid="ugc-author"')
        ui.badge(views.platform_label(post.platform.value, lang)).props("color=grey-7")
        if post.campaign:
            ui.badge(post.campaign).props("color=teal-7")
        if post.rating:
            ui.label("★" * post.rating).classes("text-amber-8")
        ui.label(local_time(post.posted_at, zone)).classes("text-xs text-grey-7")
    ui.label(post.text or "").classes("text-sm whitespace-pre-wrap").props('data-testid="ugc-text"')
    for value in [post.url, *post.images]:
        if value:
            _link_or_text(value)


def _post_actions(workspace: WorkspaceRef, post: Post, say: ui.label, refresh: Refresh) -> None:
    async def approve() -> None:
        if not state.require(WRITE):
            return
        try:
            done = await state.call(
                load.approve,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                post_id=post.id,
                actor=workspace.user_id,
                now=utcnow(),
            )
        except SiyuError as error:
            _say(say, problem(error), good=False)
            return
        if done.reward is None:
            _say(say, t("ugc.approved_unpaid", author=done.person_id), good=True)
        else:
            paid = views.reward_text(done.reward, state.language())
            _say(say, t("ugc.approved", author=done.person_id, reward=paid), good=True)
        await refresh()

    async def reject() -> None:
        if not state.require(WRITE):
            return
        if not (reason.value or "").strip():
            _say(say, t("ugc.reason_needed"), good=False)
            return
        try:
            await state.call(
                load.reject,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                post_id=post.id,
                reason=reason.value.strip(),
                actor=workspace.user_id,
                now=utcnow(),
            )
        except SiyuError as error:
            _say(say, problem(error), good=False)
            return
        _say(say, t("ugc.rejected", author=post.person_id), good=True)
        await refresh()

    with ui.row().classes("items-end gap-2"):
        ui.button(t("ugc.approve"), icon="check", on_click=approve).props(
            'color=teal-9 data-testid="ugc-approve"'
        )
        reason = ui.input(t("ugc.reason")).classes("w-64").props('dense data-testid="ugc-reason"')
        ui.button(t("ugc.reject"), icon="block", on_click=reject).props(
            'outline color=negative data-testid="ugc-reject"'
        )


def _queue(workspace: WorkspaceRef, board: load.Board, say: ui.label, refresh: Refresh) -> None:
    ui.label(t("ugc.queue", n=board.pending_total)).classes("text-base font-medium")
    if not board.pending:
        empty_state(t("ugc.queue_empty"), t("ugc.queue_empty_hint"), testid="ugc-queue-empty")
        return
    for post in board.pending:
        with ui.card().classes("w-full").props(f'data-testid="ugc-post-{post.id}"'):
            _post_body(post, workspace.timezone)
            if workspace.may(WRITE):
                _post_actions(workspace, post, say, refresh)


def _rules(workspace: WorkspaceRef, board: load.Board, say: ui.label, refresh: Refresh) -> None:
    lang = state.language()
    ui.label(t("ugc.rules")).classes("text-base font-medium")
    grid = table(views.rule_columns(lang), views.rule_rows(board.rules, lang), testid="ugc-rules")
    if not workspace.may(WRITE):
        return
    with ui.row().classes("items-end gap-3"):
        campaign = ui.input(t("ugc.col.campaign"), value=DEFAULT_CAMPAIGN).props(
            'data-testid="ugc-rule-campaign"'
        )
        kind = ui.select(
            {"points": t("ugc.kind.points"), "coupon": t("ugc.kind.coupon")},
            value="points",
            label=t("ugc.kind"),
        ).classes("w-32")
        amount = ui.number(t("ugc.amount"), value=50, min=1, precision=0).props(
            'data-testid="ugc-rule-amount"'
        )
        template = ui.input(t("ugc.template"))
    grid.on("rowClick", lambda e: campaign.set_value(e.args[1]["key"]))

    def _campaign() -> str:
        return str(campaign.value or "").strip() or DEFAULT_CAMPAIGN

    async def save() -> None:
        if not state.require(WRITE):
            return
        try:
            rule = RewardRule(
                kind=kind.value,
                amount=int(amount.value) if kind.value == "points" and amount.value else None,
                template=(template.value or None) if kind.value == "coupon" else None,
            )
            await state.call(
                load.set_rule,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                campaign=_campaign(),
                rule=rule,
                now=utcnow(),
            )
        except (ValidationError, SiyuError) as error:
            _say(say, problem(error), good=False)
            return
        _say(say, t("ugc.rule_saved", campaign=_campaign()), good=True)
        await refresh()

    async def remove() -> None:
        if not state.require(WRITE):
            return
        try:
            await state.call(
                load.delete_rule,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                campaign=_campaign(),
            )
        except SiyuError as error:
            _say(say, problem(error), good=False)
            return
        _say(say, t("ugc.rule_deleted", campaign=_campaign()), good=True)
        await refresh()

    with ui.row().classes("gap-2"):
        ui.button(t("ugc.rule_save"), icon="save", on_click=save).props(
            'color=teal-9 data-testid="ugc-rule-save"'
        )
        ui.button(t("ugc.rule_delete"), icon="delete", on_click=remove).props(
            "outline color=negative"
        )


def _kocs(
    workspace: WorkspaceRef, board: load.Board, say: ui.label, refresh: Refresh, span: Period | None
) -> None:
    lang = state.language()
    if span is None:
        title = t("ugc.kocs", days=load.KOC_DAYS, top=load.KOC_TOP)
    else:
        title = t(
            "ugc.kocs_range", first=str(span.first_day), last=str(span.last_day), top=load.KOC_TOP
        )
    ui.label(title).classes("text-base font-medium").props('data-testid="ugc-kocs-title"')
    ui.label(t("ugc.kocs_hint")).classes("text-xs text-grey-7")
    rows = views.koc_rows(board.ranking, board.koc_holders, lang)
    table(views.koc_columns(lang), rows, testid="ugc-kocs", pagination=load.KOC_TOP * 2)
    if not workspace.may(WRITE):
        return

    async def tag() -> None:
        if not state.require(WRITE):
            return
        done = await state.call(
            load.ranking,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            now=utcnow(),
            apply_tags=True,
            span=span,
        )
        _say(say, t("ugc.tagged", gained=done.tagged, lost=done.untagged), good=True)
        await refresh()

    ui.button(t("ugc.tag"), icon="sell", on_click=tag).props('color=teal-9 data-testid="ugc-tag"')


def _import(workspace: WorkspaceRef, refresh: Refresh) -> None:
    ui.label(t("ugc.import")).classes("text-base font-medium")
    ui.label(t("ugc.import_hint")).classes("text-xs text-grey-7")
    result = ui.label("").classes("text-sm").props('data-testid="ugc-import-result"')
    errors = ui.column().classes("w-full")

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
                timezone=workspace.timezone,
                now=utcnow(),
            )
        except SiyuError as error:
            _say(result, problem(error), good=False)
            return
        s = done.summary
        _say(
            result,
            t("ugc.imported", created=s.created, duplicates=s.duplicates, rejected=s.rejected),
            good=not s.rejected,
        )
        errors.clear()
        with errors:
            if s.errors:
                table(
                    views.error_columns(state.language()),
                    views.error_rows(s.errors),
                    testid="ugc-import-errors",
                )
            if done.rejects_csv:
                rejects = done.rejects_csv
                ui.button(
                    t("ugc.rejects_download"),
                    icon="download",
                    on_click=lambda: ui.download.content(rejects, "rejected.csv", "text/csv"),
                ).props("flat")
        await refresh()

    ui.upload(on_upload=upload, auto_upload=True, max_file_size=5 * 1024 * 1024).props(
        'accept=".csv" data-testid="ugc-upload"'
    ).classes("w-80")


def _fill(
    workspace: WorkspaceRef, board: load.Board, say: ui.label, refresh: Refresh, span: Period | None
) -> None:
    with ui.row().classes("gap-3"):
        kpi(t("ugc.kpi.pending"), f"{board.pending_total:,}", testid="ugc-pending")
        kpi(t("ugc.kpi.rules"), f"{len(board.rules):,}", testid="ugc-rules")
        kpi(t("ugc.kpi.kocs"), f"{len(board.koc_holders):,}", testid="ugc-kocs")
    _queue(workspace, board, say, refresh)
    lang = state.language()
    ui.label(t("ugc.moderated")).classes("text-base font-medium")
    table(
        views.moderated_columns(lang),
        views.moderated_rows(board.moderated, lang),
        testid="ugc-moderated",
    )
    _rules(workspace, board, say, refresh)
    _kocs(workspace, board, say, refresh, span)


def _draw(workspace: WorkspaceRef, say: ui.label, body: ui.column, span: Period | None) -> Refresh:
    async def fill() -> None:
        board = await state.call(
            load.board, runtime=state.runtime(), workspace_id=workspace.id, now=utcnow(), span=span
        )
        body.clear()
        with body:
            _fill(workspace, board, say, fill, span)

    ui.timer(0.01, fill, once=True)
    return fill


@ui.page("/ugc")
def ugc_page(request: Request) -> RedirectResponse | None:
    """Customers' posts to moderate, reward rules, the KOC board and the CSV import;
    ``?from=&to=`` (local days) picks the KOC board's range."""
    if state.current() is None:
        return RedirectResponse("/login")
    asked = (request.query_params.get("from", ""), request.query_params.get("to", ""))
    with frame("/ugc", "nav.ugc") as workspace:
        if not workspace.may(READ):
            empty_state(t("access.denied", permission=READ), t("ugc.ask_owner"))
            return None
        span = range_bar("/ugc", workspace, asked)
        say = ui.label("").classes("text-sm").props('data-testid="ugc-result"')
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")
        refresh = _draw(workspace, say, body, span)
        if workspace.may(WRITE):
            with ui.card().classes("w-full").props('data-testid="ugc-import"'):
                _import(workspace, refresh)
    return None
