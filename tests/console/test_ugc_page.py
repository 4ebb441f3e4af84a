"""The UGC page's calls (siyu.console.pages.ugc_load) on both stores, and its views: the
queue, approval paying once, rejection, reward rules, the KOC board and tag, CSV import."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from siyu.accounts.permissions import Role
from siyu.analytics.periods import Period
from siyu.console.auth import WorkspaceRef
from siyu.console.pages import ugc_load as load
from siyu.console.views import ranges
from siyu.console.views import ugc as views
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.loyalty import points
from siyu.pipeline import ugc as flow
from siyu.ugc.models import DEFAULT_CAMPAIGN, PostStatus, RewardRule
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)
from tests.ugc.helpers import post


def _balance(rt: Runtime, ws: str, person: str) -> int:
    with rt.sessions() as session:
        return points.get_account(session=session, workspace_id=ws, person_id=person).balance


def _rule(rt: Runtime, ws: str, amount: int) -> None:
    rule = RewardRule(kind="points", amount=amount)
    load.set_rule(runtime=rt, workspace_id=ws, campaign=DEFAULT_CAMPAIGN, rule=rule, now=utcnow())


def test_approving_from_the_queue_pays_once_and_moves_the_koc_board(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    _rule(runtime, ws, 50)
    made = flow.collect_post(
        runtime=runtime, workspace_id=ws, now=utcnow(),
        post=post(posted_at=utcnow() - timedelta(days=1), metrics={"views": 99}),
    )  # fmt: skip
    before = load.board(runtime=runtime, workspace_id=ws, now=utcnow())
    assert [p.id for p in before.pending] == [made.id] and before.pending_total == 1
    [author] = before.ranking.items
    assert (author.person_id, author.approved, author.koc) == (made.person_id, 0, False)
    assert before.koc_holders == []

    done = load.approve(runtime=runtime, workspace_id=ws, post_id=made.id, actor="u1", now=utcnow())
    assert done.status is PostStatus.APPROVED and done.reward is not None
    assert views.reward_text(done.reward, "zh") == "50 积分"
    load.approve(runtime=runtime, workspace_id=ws, post_id=made.id, actor="u2", now=utcnow())
    assert _balance(runtime, ws, made.person_id) == 50  # approved twice, paid once

    after = load.board(runtime=runtime, workspace_id=ws, now=utcnow())
    assert after.pending == [] and [p.id for p in after.moderated] == [made.id]
    [author] = after.ranking.items
    assert (author.approved, author.koc) == (1, True) and author.score > 0
    [row] = views.koc_rows(after.ranking, after.koc_holders, "en")
    assert (row["approved"], row["koc"], row["tagged"]) == ("1", "Yes", "No")

    tagged = load.ranking(runtime=runtime, workspace_id=ws, now=utcnow(), apply_tags=True)
    assert tagged.tagged == 1
    assert load.koc_holders(runtime=runtime, workspace_id=ws) == [made.person_id]


def test_reject_with_reason_and_reward_rules(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    made = flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(), post=post())
    done = load.reject(runtime=runtime, workspace_id=ws, post_id=made.id, reason="广告",
                       actor="u1", now=utcnow())  # fmt: skip
    assert (done.status, done.reason, done.reward) == (PostStatus.REJECTED, "广告", None)
    [row] = views.moderated_rows([done], "zh")
    assert (row["status"], row["reason"], row["reward"]) == ("已驳回", "广告", "—")

    _rule(runtime, ws, 30)
    coupon = RewardRule(kind="coupon", template="ct_1")
    load.set_rule(runtime=runtime, workspace_id=ws, campaign="晒单", rule=coupon, now=utcnow())
    later = flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(), post=post("x2"))
    load.approve(runtime=runtime, workspace_id=ws, post_id=later.id, actor="u1", now=utcnow())
    board = load.board(runtime=runtime, workspace_id=ws, now=utcnow())
    assert [p.id for p in board.moderated] == [later.id, made.id]  # latest decision first
    rows = views.rule_rows(board.rules, "en")
    assert {r["campaign"]: r["reward"] for r in rows} == {
        "Default (*)": "30 points",
        "晒单": "Coupon ct_1",
    }
    assert load.delete_rule(runtime=runtime, workspace_id=ws, campaign="晒单") == "晒单"
    with pytest.raises(NotFoundError):
        load.delete_rule(runtime=runtime, workspace_id=ws, campaign="晒单")


def test_csv_import_names_bad_rows_and_hands_back_the_reject_file(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    data = (
        "platform,external_id,member_id,text,rating,posted_at\n"
        "xiaohongshu,n1,M1,好用,,2026-11-20 10:00\n"
        "mall_review,r1,M2,五星,6,2026-11-21 10:00\n"
    ).encode()
    done = load.import_csv(runtime=runtime, workspace_id=ws, data=data,
                           timezone="Asia/Shanghai", now=utcnow())  # fmt: skip
    s = done.summary
    assert (s.rows_read, s.created, s.rejected, s.reject_file) == (2, 1, 1, None)
    assert views.error_rows(s.errors) == [
        {"key": "2:rating", "row": 2, "field": "rating", "message": s.errors[0].message}
    ]
    assert done.rejects_csv is not None
    kept = list(csv.DictReader(io.StringIO(done.rejects_csv.decode("utf-8-sig"))))
    assert [(r["row"], r["field"], r["external_id"]) for r in kept] == [("2", "rating", "r1")]
    again = load.import_csv(runtime=runtime, workspace_id=ws, data=data,
                            timezone="Asia/Shanghai", now=utcnow())  # fmt: skip
    assert (again.summary.created, again.summary.duplicates) == (0, 1)
    with pytest.raises(InvalidInputError):
        load.import_csv(runtime=runtime, workspace_id=ws, data=b"phnoe,text\n1,x\n",
                        timezone="Asia/Shanghai", now=utcnow())  # fmt: skip


def test_only_web_addresses_become_links() -> None:
    assert views.is_web_link("https://www.xiaohongshu.com/explore/1")
    assert views.is_web_link("HTTP://a.example/x.jpg")
    assert not views.is_web_link("javascript:alert(1)")
    assert not views.is_web_link("/local/file.jpg")
    assert views.preview("  很 \n 好用 ") == "很 好用"
    assert views.preview("好" * 200).endswith("…") and len(views.preview("好" * 200)) == 120


def test_a_picked_range_moves_the_koc_board_and_its_tagging(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    now = utcnow()
    old = now - timedelta(days=40)  # outside the default 30 days
    made = flow.collect_post(runtime=runtime, workspace_id=ws, now=now,
                             post=post(posted_at=old, metrics={"views": 99}))  # fmt: skip
    ref = WorkspaceRef(id=ws, name="b", timezone="Asia/Shanghai", role=Role.owner,
                       email="o@x.cn", user_id="u1")  # fmt: skip
    day = old.astimezone(ZoneInfo("Asia/Shanghai")).date()
    around = ranges.chosen_range(ref, now, day - timedelta(days=2), day + timedelta(days=2))
    after = ranges.chosen_range(ref, now, day + timedelta(days=1), None)

    def posts(span: Period | None) -> int:
        board = load.board(runtime=runtime, workspace_id=ws, now=now, span=span)
        return sum(a.posts for a in board.ranking.items if a.person_id == made.person_id)

    assert (posts(None), posts(after), posts(around)) == (0, 0, 1)
    assert around is not None
    tagged = load.ranking(runtime=runtime, workspace_id=ws, now=now, apply_tags=True, span=around)
    assert (tagged.start, tagged.end) == (around.start, around.end)
    assert [a.posts for a in tagged.items] == [1]
