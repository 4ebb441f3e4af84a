"""Message templates per workspace and channel, rendered in Jinja2's sandbox.

Template bodies are written by operators in the console, so rendering must not reach Python
internals (``{{ ''.__class__ }}``): Jinja2's :class:`SandboxedEnvironment` refuses unsafe
attribute access, and :class:`StrictUndefined` turns a missing placeholder into an error
instead of a message that says "Hello ," to a customer. No autoescaping: every channel here
takes plain text.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2 import Template as JinjaTemplate
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.channels.models import Channel
from siyu.channels.outbox_models import Template, TemplatePut
from siyu.channels.tables import channel_templates
from siyu.core.errors import InvalidInputError

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=512)
def _compiled(body: str) -> JinjaTemplate:
    return _ENV.from_string(body)


def check_body(body: str, *, field: str = "body") -> None:
    """Raise InvalidInputError if ``body`` does not parse as a template."""
    try:
        _compiled(body)
    except TemplateError as exc:
        raise InvalidInputError(f"template does not parse: {exc}", field=field) from None


@lru_cache(maxsize=512)
def placeholders(body: str) -> frozenset[str]:
    """The names ``body`` reads from its params (``{{ name }}``, ``{% if name %}``); empty
    for a body that does not parse."""
    try:
        return frozenset(meta.find_undeclared_variables(_ENV.parse(body)))
    except TemplateError:
        return frozenset()


def render(body: str, params: dict[str, str], *, field: str = "params") -> str:
    """``body`` with its placeholders filled from ``params``.

    Raises:
        InvalidInputError: a placeholder has no value, or the template is unsafe/broken.
    """
    check_body(body, field="template")
    try:
        return _compiled(body).render(**params)
    except TemplateError as exc:
        raise InvalidInputError(f"template cannot be rendered: {exc}", field=field) from None


def put_template(
    *, session: Session, workspace_id: str, template: TemplatePut, now: datetime
) -> Template:
    """Create or replace a template (by channel and name); the caller commits."""
    check_body(template.body)
    if template.subject:
        check_body(template.subject, field="subject")
    if template.channel is Channel.WEBHOOK and not (template.endpoint or "").startswith("http"):
        raise InvalidInputError("a webhook template needs an http(s) endpoint", field="endpoint")
    t = channel_templates.c
    values = template.model_dump(mode="json", exclude={"channel", "name"}) | {"updated_at": now}
    done = session.execute(
        update(channel_templates)
        .where(
            t.workspace_id == workspace_id,
            t.channel == template.channel.value,
            t.name == template.name,
        )
        .values(**values)
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            insert(channel_templates).values(
                workspace_id=workspace_id,
                channel=template.channel.value,
                name=template.name,
                **values,
            )
        )
    return Template(**template.model_dump(), updated_at=now)


def find_template(
    *, session: Session, workspace_id: str, channel: Channel, name: str
) -> Template | None:
    """The template ``name`` of ``channel``, or None."""
    t = channel_templates.c
    row = session.execute(
        select(channel_templates).where(
            t.workspace_id == workspace_id, t.channel == channel.value, t.name == name
        )
    ).first()
    if row is None:
        return None
    data = dict(row._mapping)
    data.pop("workspace_id")
    return Template.model_validate(data)


def list_templates(*, session: Session, workspace_id: str) -> list[Template]:
    """Every template of the workspace, by channel and name."""
    t = channel_templates.c
    rows = session.execute(
        select(channel_templates).where(t.workspace_id == workspace_id).order_by(t.channel, t.name)
    ).all()
    out = []
    for row in rows:
        data = dict(row._mapping)
        data.pop("workspace_id")
        out.append(Template.model_validate(data))
    return out
