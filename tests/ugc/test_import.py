"""CSV import: bad rows named by row and field, nothing lost, re-runs add nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime
from siyu.pipeline import ugc_import
from siyu.ugc import service as ugc
from siyu.ugc.models import PostFilter
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)

HEADER = "platform,external_id,phone,member_id,person_id,text,rating,images,posted_at,views,likes"
ROWS = [
    "xiaohongshu,n1,13800138001,,,好用,,https://a/1.jpg|https://a/2.jpg,2026-11-20 10:00,100,5",
    "douyin,v1,,M2,,,,,2026-11-21T08:00:00+08:00,,",
    "tiktok,t1,13800138003,,,,,,2026-11-21 09:00,,",  # row 3: unknown platform
    "mall_review,r1,,M4,,五星,6,,2026-11-22 09:00,,",  # row 4: rating over 5
    "weibo,w1,12,,,,,,2026-11-22 09:00,,",  # row 5: a phone that is none
    "weibo,w2,,,p_nobody,,,,2026-11-22 09:00,,",  # row 6: an unknown person
    "weibo,w3,,M7,,,,,yesterday,,",  # row 7: not a time
    "weibo,w4,,,,,,,2026-11-22 09:00,,",  # row 8: no author
    "xiaohongshu,n1,13800138001,,,好用,,,2026-11-20 10:00,150,9",  # row 9: twin of row 1
    "wechat_moments,m1,,M10,,晒单,,,2026-11-23 12:00,-1,",  # row 10: negative views
]


def _write(path: Path, rows: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding=encoding)
    return path


def test_bad_rows_are_named_and_kept_and_a_rerun_adds_nothing(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
    tmp_path: Path,
) -> None:
    ws = keys.workspace_id
    file = _write(tmp_path / "posts.csv", ROWS)
    seen: list[int] = []
    summary = ugc_import.import_posts(
        runtime=runtime, workspace_id=ws, file=file, timezone="Asia/Shanghai", now=utcnow(),
        on_rows=seen.append,
    )  # fmt: skip
    assert (summary.rows_read, summary.created, summary.duplicates) == (10, 2, 1)
    assert summary.metrics_updated == 1  # the twin's counts are a later report
    bad = {e.row: e.field for e in summary.errors}
    assert bad == {3: "platform", 4: "rating", 5: "author.phone", 6: "person_id",
                   7: "posted_at", 8: "person_id", 10: "views"}  # fmt: skip
    assert summary.created + summary.duplicates + summary.rejected == summary.rows_read
    assert sum(seen) == 10
    with Path(summary.reject_file or "").open(encoding="utf-8-sig") as rejected:
        kept = list(csv.DictReader(rejected))
    assert [int(r["row"]) for r in kept] == sorted(bad)
    assert kept[0]["platform"] == "tiktok" and kept[0]["field"] == "platform"
    with runtime.sessions() as session:
        page = ugc.list_posts(session=session, workspace_id=ws, where=PostFilter())
    by_external = {p.external_id: p for p in page.items}
    note = by_external["n1"]
    assert note.images == ["https://a/1.jpg", "https://a/2.jpg"]
    assert (note.metrics.views, note.metrics.likes) == (150, 9)
    assert note.posted_at.isoformat() == "2026-11-20T02:00:00+00:00"  # Shanghai local time
    again = ugc_import.import_posts(runtime=runtime, workspace_id=ws, file=file,
                                    timezone="Asia/Shanghai", now=utcnow())  # fmt: skip
    assert (again.created, again.duplicates, again.rejected) == (0, 3, 7)


def test_unusable_headers_and_gbk_files(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
    tmp_path: Path,
) -> None:
    ws = keys.workspace_id
    typo = tmp_path / "typo.csv"
    typo.write_text("platform,posted_at,phnoe\nweibo,2026-11-22 09:00,13800138000\n")
    with pytest.raises(InvalidInputError) as unknown:
        ugc_import.import_posts(runtime=runtime, workspace_id=ws, file=typo,
                                timezone="Asia/Shanghai", now=utcnow())  # fmt: skip
    assert unknown.value.field == "phnoe"
    no_author = tmp_path / "no_author.csv"
    no_author.write_text("platform,posted_at,text\nweibo,2026-11-22 09:00,hi\n")
    with pytest.raises(InvalidInputError) as anonymous:
        ugc_import.import_posts(runtime=runtime, workspace_id=ws, file=no_author,
                                timezone="Asia/Shanghai", now=utcnow())  # fmt: skip
    assert anonymous.value.field == "person_id"
    gbk = _write(tmp_path / "gbk.csv", ROWS[:2], encoding="gbk")
    done = ugc_import.import_posts(runtime=runtime, workspace_id=ws, file=gbk,
                                   timezone="Asia/Shanghai", now=utcnow())  # fmt: skip
    assert done.created == 2
    with runtime.sessions() as session:
        texts = [p.text for p in ugc.list_posts(session=session, workspace_id=ws,
                                                where=PostFilter()).items]  # fmt: skip
    assert "好用" in texts
