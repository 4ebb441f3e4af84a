"""A journey message carries the person's recommendations (rec_1 …) into its template."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from siyu.channels import service as channels
from siyu.channels.models import Channel, MessageRequest, Purpose
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.tables import channel_messages
from siyu.journeys.actions import SendMessage
from siyu.pipeline.journeys import apply_actions
from siyu.pipeline.personalise import recommendation_values
from siyu.recommend import service as recommend
from siyu.recommend.models import Filters
from tests.recommend.synthetic import NOW, open_loaded


def _send(person_id: str, key: str, params: dict[str, str]) -> SendMessage:
    request = MessageRequest(person_id=person_id, channel=Channel.WEBHOOK, template="rec",
                             params=params, purpose=Purpose.TRANSACTIONAL,
                             idempotency_key=key)  # fmt: skip
    return SendMessage(key=key, journey_id="j1", node_id="n1", person_id=person_id,
                       request=request)  # fmt: skip


def test_a_send_is_personalised_with_the_persons_top_products(tmp_path: Path) -> None:
    rt, ws = open_loaded(tmp_path, "sqlite", persons=30)
    try:
        assert recommendation_values(runtime=rt, workspace_id=ws, now=NOW) is None  # no model
        recommend.train(runtime=rt, workspace_id=ws, now=NOW)
        personalise = recommendation_values(runtime=rt, workspace_id=ws, now=NOW)
        assert personalise is not None
        top = recommend.recommend_for(runtime=rt, workspace_id=ws, person_id="p001", k=3,
                                      filters=Filters(), now=NOW)  # fmt: skip
        assert len(top.items) >= 2
        with rt.sessions() as session, session.begin():
            body = "为你推荐 {{ rec_1 }}；{{ rec_2 }}"
            hook = "http://127.0.0.1:9/hook"
            template = TemplatePut(channel=Channel.WEBHOOK, name="rec", body=body, endpoint=hook)
            channels.put_template(session=session, workspace_id=ws, now=NOW, template=template)
            failures = apply_actions(
                session=session, workspace_id=ws, now=NOW, personalise=personalise,
                actions=[_send("p001", "k-1", {}), _send("p001", "k-2", {"rec_2": "店长推荐"})],
            )  # fmt: skip
        assert failures == []
        with rt.sessions() as session:
            rows = session.execute(
                select(channel_messages.c.idempotency_key, channel_messages.c.content).order_by(
                    channel_messages.c.idempotency_key
                )
            ).all()
        first, second = (row.content for row in rows)
        names = [item.name or item.product_id for item in top.items]
        assert first == f"为你推荐 {names[0]}；{names[1]}"
        assert second == f"为你推荐 {names[0]}；店长推荐"  # the step's own value wins
    finally:
        rt.close()
