"""The content editor's calls (siyu.console.pages.content_load) on both stores, and its form
(siyu.console.views.content_form): create, edit with the version check, archive, tracked
links with their QR codes."""

from __future__ import annotations

import base64
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from siyu.accounts.permissions import Role
from siyu.analytics.periods import Period
from siyu.console.auth import WorkspaceRef
from siyu.console.pages import content_load as load
from siyu.console.views import content_form as form
from siyu.console.views import ranges
from siyu.content.models import VARIANT_CHANNELS, ContentStatus, LinkCreate
from siyu.content.performance import CLICKED
from siyu.core.clock import utcnow
from siyu.core.errors import ConflictError, InvalidInputError
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.analytics.events import Row, table_of
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)

PNG = b"\x89PNG\r\n\x1a\n"


def _values(**changes: str) -> dict[str, str]:
    values = form.blank_values()
    values.update(title="山茶花精华怎么用", body="早晚各一次，三滴。", tags="护肤 | 新品")
    values.update(changes)
    return values


def test_create_edit_with_the_version_check_and_archive(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    item = form.item_from_form(_values(**{"sms.text": "三滴就够", "wecom.text": "试试看"}))
    made = load.create(runtime=runtime, workspace_id=ws, item=item, by="u1", now=utcnow())
    assert made.version == 1 and made.tags == ["护肤", "新品"]
    assert [v.channel for v in made.variants] == ["wecom", "sms"]

    opened = form.form_values(load.get(runtime=runtime, workspace_id=ws, content_id=made.id))
    assert opened["sms.text"] == "三滴就够" and opened["email.subject"] == ""
    opened.update(
        {"title": "精华用法", "sms.text": "", "email.subject": "用法", "email.text": "三滴"}
    )
    changes = form.update_from_form(opened)
    saved = load.update(runtime=runtime, workspace_id=ws, content_id=made.id, changes=changes,
                        version=1, by="u2", now=utcnow())  # fmt: skip
    assert (saved.version, saved.title, saved.updated_by) == (2, "精华用法", "u2")
    assert [v.channel for v in saved.variants] == ["wecom", "email"]  # sms cleared: dropped

    with pytest.raises(ConflictError) as stale:  # a second editor still at version 1
        load.update(runtime=runtime, workspace_id=ws, content_id=made.id, changes=changes,
                    version=1, by="u3", now=utcnow())  # fmt: skip
    assert stale.value.field == "version" and "version 2, not 1" in stale.value.message
    with pytest.raises(ConflictError):
        load.archive(runtime=runtime, workspace_id=ws, content_id=made.id, version=1, by="u3",
                     now=utcnow())  # fmt: skip
    gone = load.archive(runtime=runtime, workspace_id=ws, content_id=made.id, version=2,
                        by="u3", now=utcnow())  # fmt: skip
    assert (gone.status, gone.version) == (ContentStatus.ARCHIVED, 3)
    board = load.board(runtime=runtime, workspace_id=ws, now=utcnow())
    assert [i.id for i in board.library] == [made.id]
    assert [i.content_id for i in board.report.items] == [made.id]


def test_the_domain_names_what_is_wrong(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    with pytest.raises(ValidationError) as bad:
        form.item_from_form(_values(**{"sms.text": "长" * 470}))
    assert [".".join(map(str, e["loc"])) for e in bad.value.errors()] == ["variants.0.sms.text"]
    link = form.item_from_form(_values(kind="link", body=""))
    with pytest.raises(InvalidInputError) as missing:
        load.create(runtime=runtime, workspace_id=keys.workspace_id, item=link, by="u1",
                    now=utcnow())  # fmt: skip
    assert missing.value.field == "url"


def test_a_tracked_link_and_its_qr_code(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    made = load.create(runtime=runtime, workspace_id=ws, item=form.item_from_form(_values()),
                       by="u1", now=utcnow())  # fmt: skip
    ask = LinkCreate(channel="poster", sharer_id="p_1")
    first = load.tracked_link(runtime=runtime, workspace_id=ws, content_id=made.id, link=ask,
                              now=utcnow())  # fmt: skip
    again = load.tracked_link(runtime=runtime, workspace_id=ws, content_id=made.id, link=ask,
                              now=utcnow())  # fmt: skip
    assert first.link.code == again.link.code  # the same sharer keeps one link per channel
    assert first.link.url.endswith(f"/c/{first.link.code}") and first.link.sharer_id == "p_1"
    prefix = "data:image/png;base64,"
    assert first.qr_data_url.startswith(prefix)
    assert base64.b64decode(first.qr_data_url.removeprefix(prefix)).startswith(PNG)
    brand = load.tracked_link(runtime=runtime, workspace_id=ws, content_id=made.id,
                              link=LinkCreate(channel="sms"), now=utcnow())  # fmt: skip
    assert brand.link.code != first.link.code and brand.link.sharer_id is None


def test_the_form_has_inputs_for_every_variant_field_and_round_trips() -> None:
    assert tuple(form.VARIANT_MODELS) == VARIANT_CHANNELS
    assert form.variant_fields("miniprogram") == ("appid", "page", "title", "thumb_path")
    values = _values(**{"miniprogram.appid": "wx0123456789abcdef", "miniprogram.page": "/p?id=1",
                        "miniprogram.title": "卡片", "mp_template.title": "标题"})  # fmt: skip
    item = form.item_from_form({**values, "kind": "miniprogram_card"})
    channels = {v.channel: v for v in item.variants}
    assert set(channels) == {"mp_template", "miniprogram"}
    assert channels["miniprogram"].page == "p?id=1"  # type: ignore[union-attr]
    assert form.split_tags(" a |  | b ") == ["a", "b"]
    assert form.variants_from_form(form.blank_values()) == []


def test_a_picked_range_bounds_the_performance(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    made = load.create(runtime=runtime, workspace_id=ws, item=form.item_from_form(_values()),
                       by="u1", now=utcnow())  # fmt: skip
    code = load.tracked_link(runtime=runtime, workspace_id=ws, content_id=made.id,
                             link=LinkCreate(channel="sms"), now=utcnow()).link.code  # fmt: skip
    now = utcnow()
    ref = WorkspaceRef(id=ws, name="b", timezone="Asia/Shanghai", role=Role.owner,
                       email="o@x.cn", user_id="u1")  # fmt: skip
    # a click 40 days ago, outside the default 30 days; another yesterday
    clicks = [now - timedelta(days=40), now - timedelta(days=1)]
    rows = [Row(f"p{i}", CLICKED, at, properties={"content_code": code})
            for i, at in enumerate(clicks)]  # fmt: skip
    runtime.events.append(table_of(rows, workspace_id=ws))

    def clicks_in(span: Period | None) -> int:
        report = load.board(runtime=runtime, workspace_id=ws, now=now, span=span).report
        return sum(i.clicks for i in report.items)

    assert clicks_in(None) == 1
    local = clicks[0].astimezone(ZoneInfo("Asia/Shanghai")).date()
    around = ranges.chosen_range(ref, now, local - timedelta(days=1), local + timedelta(days=1))
    assert around is not None
    board = load.board(runtime=runtime, workspace_id=ws, now=now, span=around)
    assert (board.report.start, board.report.end) == (around.start, around.end)
    assert clicks_in(around) == 1 and board.report.items[0].clicks == 1
    since = ranges.chosen_range(ref, now, local - timedelta(days=1), None)
    assert clicks_in(since) == 2
