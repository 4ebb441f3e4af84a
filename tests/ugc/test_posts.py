"""Posts collected through OneID, idempotent, listed and filtered (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from siyu import pipeline
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.pipeline import ugc as flow
from siyu.ugc import service as ugc
from siyu.ugc.models import Metrics, PostFilter, PostStatus
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)
from tests.ugc.helpers import people, post


def test_an_author_known_by_phone_is_the_person_holding_it(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    now = utcnow()
    hello = {"type": "identify", "messageId": "i-1", "userId": "u1",
             "traits": {"phone": "13800138000", "member_id": "M1"}}  # fmt: skip
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=[hello])
    [known] = people(runtime, ws, ["u1"])
    by_phone = flow.collect_post(runtime=runtime, workspace_id=ws, now=now,
                                 post=post(author={"phone": "+86 138-0013-8000"}))  # fmt: skip
    by_member = flow.collect_post(runtime=runtime, workspace_id=ws, now=now,
                                  post=post("x2", author={"member_id": "M1"}))  # fmt: skip
    by_id = flow.collect_post(runtime=runtime, workspace_id=ws, now=now,
                              post=post("x3", person_id=known, author={}))  # fmt: skip
    assert by_phone.person_id == by_member.person_id == by_id.person_id == known
    assert by_phone.status is PostStatus.PENDING
    # The submission is an event of the author, carrying the post id.
    events = pipeline.person_events(runtime=runtime, workspace_id=ws, person_id=known,
                                    limit=10, before=None)  # fmt: skip
    assert {e["event"] for e in events} >= {"ugc_post_submitted"}
    assert by_phone.id in str([e["properties"] for e in events])


def test_an_unknown_author_becomes_a_new_person(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    made = flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(),
                             post=post(author={"mp_openid": "wxapp:o-new"}))  # fmt: skip
    found = pipeline.find_person(runtime=runtime, workspace_id=ws,
                                 identifier_type="mp_openid", identifier="wxapp:o-new")  # fmt: skip
    assert found.person_id == made.person_id


def test_a_resent_post_answers_the_first_by_external_id_or_key(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    now = utcnow()
    first = flow.collect_post(runtime=runtime, workspace_id=ws, now=now, post=post("n1"))
    again = flow.collect_post(runtime=runtime, workspace_id=ws, now=now, post=post("n1"))
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
    keyed = post(None, platform="mall_review", rating=5)
    one = flow.collect_post(runtime=runtime, workspace_id=ws, now=now, post=keyed,
                            idempotency_key="k-1")  # fmt: skip
    two = flow.collect_post(runtime=runtime, workspace_id=ws, now=now, post=keyed,
                            idempotency_key="k-1")  # fmt: skip
    assert two.id == one.id and two.replayed
    with runtime.sessions() as session:
        assert ugc.list_posts(session=session, workspace_id=ws, where=PostFilter()).total == 2


def test_racing_twins_store_one_post(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    now = utcnow()

    def send(_: int) -> str:
        return flow.collect_post(runtime=runtime, workspace_id=ws, now=now, post=post("race")).id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(send, range(6)))
    assert len(ids) == 1


def test_bad_authors_are_refused_naming_the_field(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    with pytest.raises(InvalidInputError) as bad_phone:
        flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(),
                          post=post(author={"phone": "12"}))  # fmt: skip
    assert bad_phone.value.field == "author.phone"
    with pytest.raises(InvalidInputError) as bad_type:
        flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(),
                          post=post(author={"qq": "1"}))  # fmt: skip
    assert bad_type.value.field == "author.qq"
    with pytest.raises(NotFoundError) as gone:
        flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(),
                          post=post(person_id="p_missing", author={}))  # fmt: skip
    assert gone.value.field == "person_id"


def test_list_filters_and_metrics_history(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    now = utcnow()
    a = flow.collect_post(runtime=runtime, workspace_id=ws, now=now,
                          post=post("a", author={"user_id": "amy"}, campaign="618"))  # fmt: skip
    flow.collect_post(runtime=runtime, workspace_id=ws, now=now,
                      post=post("b", platform="douyin", author={"user_id": "bob"}))  # fmt: skip
    with runtime.sessions() as session:
        only = ugc.list_posts(session=session, workspace_id=ws,
                              where=PostFilter(platform="douyin"))  # fmt: skip
        mine = ugc.list_posts(session=session, workspace_id=ws,
                              where=PostFilter(person_id=a.person_id))  # fmt: skip
        by_campaign = ugc.list_posts(session=session, workspace_id=ws,
                                     where=PostFilter(campaign="618"))  # fmt: skip
    assert [p.platform.value for p in only.items] == ["douyin"]
    assert [p.id for p in mine.items] == [a.id] == [p.id for p in by_campaign.items]
    later = now + timedelta(days=1)
    flow.update_metrics(runtime=runtime, workspace_id=ws, post_id=a.id, at=later,
                        metrics=Metrics(views=100, likes=10))  # fmt: skip
    stale = flow.update_metrics(runtime=runtime, workspace_id=ws, post_id=a.id, at=now,
                                metrics=Metrics(views=5))  # fmt: skip
    assert stale.metrics.views == 100  # an earlier report goes to the history only
    with runtime.sessions() as session:
        growth = ugc.reach_growth(
            session=session, workspace_id=ws, start=now + timedelta(hours=1),
            end=later + timedelta(hours=1),
        )  # fmt: skip
    assert growth == {a.id: 110 - 5}
