"""The material library on SQLite and PostgreSQL: items validated field by field, versions,
tracked links one per sharer and channel in a fission tree, quick replies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from siyu.content import links
from siyu.content import service as content
from siyu.content.models import ContentCreate, ContentStatus, ContentUpdate, LinkCreate
from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.workspaces import service as workspaces

NOW = datetime.fromisoformat("2026-11-28T02:30:00+00:00")
APPID = "wx0123456789abcdef"


def _workspace(db: sessionmaker[Session]) -> str:
    with db() as s, s.begin():
        return workspaces.create_workspace(session=s, name="品牌", now=NOW).workspace_id


def article(**extra: Any) -> ContentCreate:
    data: dict[str, Any] = {
        "kind": "article",
        "title": "山茶花精华怎么用",
        "body": "早晚各一次。\n先洁面。",
        "tags": ["护肤", "教程"],
        "status": "published",
        "variants": [
            {"channel": "wecom", "text": "给您整理了使用方法"},
            {"channel": "sms", "text": "【山茶集】精华使用方法"},
            {
                "channel": "miniprogram",
                "appid": APPID,
                "page": "/pages/article?id=7",
                "title": "精华怎么用",
            },
        ],
        **extra,
    }
    return ContentCreate.model_validate(data)


def _field_of(exc: ValidationError) -> str:
    return ".".join(str(p) for p in exc.errors()[0]["loc"])


def test_variants_are_validated_per_channel_naming_the_field() -> None:
    too_long = {"channel": "sms", "text": "很" * 461}
    with pytest.raises(ValidationError) as sms:
        ContentCreate.model_validate({"kind": "text", "title": "t", "variants": [too_long]})
    assert _field_of(sms.value) == "variants.0.sms.text"
    assert "460" in str(sms.value)
    ContentCreate.model_validate(
        {"kind": "text", "title": "t", "variants": [{"channel": "sms", "text": "很" * 460}]}
    )
    card = {"channel": "miniprogram", "appid": "wx123", "page": "pages/a", "title": "t"}
    with pytest.raises(ValidationError) as appid:
        ContentCreate.model_validate({"kind": "text", "title": "t", "variants": [card]})
    assert _field_of(appid.value) == "variants.0.miniprogram.appid"
    no_page = {"channel": "miniprogram", "appid": APPID, "title": "t"}
    with pytest.raises(ValidationError) as page:
        ContentCreate.model_validate({"kind": "text", "title": "t", "variants": [no_page]})
    assert _field_of(page.value) == "variants.0.miniprogram.page"
    web = {**no_page, "page": "https://evil.example/x"}
    with pytest.raises(ValidationError):
        ContentCreate.model_validate({"kind": "text", "title": "t", "variants": [web]})
    assert article().variants[2].page == "pages/article?id=7"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "link", "title": "t"}, "url"),
        ({"kind": "link", "title": "t", "url": "javascript:alert(1)"}, "url"),
        ({"kind": "article", "title": "t", "body": "  "}, "body"),
        ({"kind": "poster", "title": "t"}, "media_path"),
        ({"kind": "miniprogram_card", "title": "t"}, "variants"),
        (
            {
                "kind": "text",
                "title": "t",
                "body": "x",
                "variants": [{"channel": "wecom", "text": "a"}, {"channel": "wecom", "text": "b"}],
            },
            "variants.1.channel",
        ),
    ],
)
def test_what_each_kind_needs(db: sessionmaker[Session], data: dict[str, Any], field: str) -> None:
    ws = _workspace(db)
    with db() as s, s.begin(), pytest.raises(InvalidInputError) as bad:
        content.create_content(
            session=s, workspace_id=ws, item=ContentCreate.model_validate(data), now=NOW, by="t"
        )
    assert bad.value.field == field


def test_edits_are_versions(db: sessionmaker[Session]) -> None:
    ws = _workspace(db)
    with db() as s, s.begin():
        made = content.create_content(session=s, workspace_id=ws, item=article(), now=NOW, by="ana")
        again = content.create_content(
            session=s, workspace_id=ws, item=article(), now=NOW, by="ana", idempotency_key="k1"
        )
        same = content.create_content(
            session=s,
            workspace_id=ws,
            item=article(title="别的"),
            now=NOW,
            by="ana",
            idempotency_key="k1",
        )
    assert same.id == again.id != made.id and same.title == again.title
    later = NOW + timedelta(hours=1)
    with db() as s, s.begin():
        edited = content.update_content(
            session=s,
            workspace_id=ws,
            content_id=made.id,
            now=later,
            by="bo",
            changes=ContentUpdate(title="新标题", status=ContentStatus.ARCHIVED),
            expected_version=1,
        )
    assert (edited.version, edited.title, edited.updated_by) == (2, "新标题", "bo")
    assert edited.updated_at == later and edited.variants == made.variants
    with db() as s, s.begin(), pytest.raises(ConflictError) as stale:
        content.update_content(
            session=s,
            workspace_id=ws,
            content_id=made.id,
            now=later,
            by="cy",
            changes=ContentUpdate(title="x"),
            expected_version=1,
        )
    assert stale.value.field == "version"
    with db() as s, s.begin(), pytest.raises(InvalidInputError) as bad:
        content.update_content(
            session=s,
            workspace_id=ws,
            content_id=made.id,
            now=later,
            by="cy",
            changes=ContentUpdate(body=""),
        )
    assert bad.value.field == "body"
    with db() as s:
        versions = content.list_versions(session=s, workspace_id=ws, content_id=made.id)
        archived = content.list_content(session=s, workspace_id=ws, status=ContentStatus.ARCHIVED)
        by_tag = content.list_content(session=s, workspace_id=ws, tag="教程")
        by_text = content.list_content(session=s, workspace_id=ws, q="洁面")
    assert [(v.version, v.by, v.snapshot["title"]) for v in versions] == [
        (2, "bo", "新标题"),
        (1, "ana", "山茶花精华怎么用"),
    ]
    assert [i.id for i in archived] == [made.id]
    assert len(by_tag) == 2 and len(by_text) == 2


def test_links_form_a_tree_one_per_sharer_and_channel(db: sessionmaker[Session]) -> None:
    ws = _workspace(db)
    other = _workspace(db)
    with db() as s, s.begin():
        item = content.create_content(session=s, workspace_id=ws, item=article(), now=NOW, by="t")
        second = content.create_content(session=s, workspace_id=ws, item=article(), now=NOW, by="t")

        def link(**kw: Any) -> tuple[Any, bool]:
            return links.link_for(
                session=s, workspace_id=ws, content_id=item.id, now=NOW, link=LinkCreate(**kw)
            )

        brand, new = link(channel="wecom")
        assert new and brand.sharer_id is None and brand.depth == 0
        alice, _ = link(channel="wecom", sharer_id="p_alice")
        bob, new_bob = link(channel="share", sharer_id="p_bob", parent_code=alice.code)
        again, new_again = link(channel="share", sharer_id="p_bob", parent_code=brand.code)
        carol, _ = link(channel="share", sharer_id="p_carol", parent_code=bob.code)
        assert new_bob and not new_again and again.code == bob.code  # first parent wins
        assert (bob.depth, carol.depth, carol.parent_code) == (1, 2, bob.code)
        assert carol.url == f"https://siyu.local/c/{carol.code}"
        with pytest.raises(NotFoundError) as wrong:  # a parent of another item
            links.link_for(
                session=s,
                workspace_id=ws,
                content_id=second.id,
                now=NOW,
                link=LinkCreate(sharer_id="p_dan", parent_code=bob.code),
            )
        assert wrong.value.field == "parent_code"
        with pytest.raises(NotFoundError):
            links.link_for(
                session=s, workspace_id=other, content_id=item.id, now=NOW, link=LinkCreate()
            )
        tree = links.list_links(session=s, workspace_id=ws, content_id=item.id)
        found = links.find_link(session=s, code=carol.code)
    assert [(k.sharer_id, k.depth) for k in tree][-1] == ("p_carol", 2)
    assert len(tree) == 4
    assert found is not None and found[0] == ws and found[1] == carol


def test_quick_replies_are_published_items_in_the_channel_text(db: sessionmaker[Session]) -> None:
    ws = _workspace(db)
    with db() as s, s.begin():
        content.create_content(session=s, workspace_id=ws, item=article(), now=NOW, by="t")
        content.create_content(
            session=s, workspace_id=ws, now=NOW, by="t", item=article(title="草稿", status="draft")
        )
        content.create_content(
            session=s,
            workspace_id=ws,
            now=NOW,
            by="t",
            item=ContentCreate(
                kind="text",
                title="发货时间",
                body="下单后 48 小时内发货",
                tags=["售后"],
                status=ContentStatus.PUBLISHED,
            ),
        )
    with db() as s:
        wecom = content.quick_replies(session=s, workspace_id=ws, channel="wecom")
        sms = content.quick_replies(session=s, workspace_id=ws, channel="sms", q="精华")
        group = content.quick_replies(session=s, workspace_id=ws, channel="wecom_group", q="售后")
    assert sorted(r.text for r in wecom) == ["下单后 48 小时内发货", "给您整理了使用方法"]
    assert [r.text for r in sms] == ["【山茶集】精华使用方法"]
    assert [r.title for r in group] == ["发货时间"]  # by tag; the body, as it has no variant
