"""The channels page's policy calls (siyu.console.pages.channels_load) on SQLite and
PostgreSQL: removing one channel's cap override writes the policy without it and keeps the
rest (default caps, other overrides, quiet hours) as stored."""

from __future__ import annotations

from datetime import time

from siyu.channels.models import Channel
from siyu.channels.restraint import ChannelCaps, RestraintPolicy
from siyu.console.pages import channels_load as load
from siyu.console.views import channels as views
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)


def test_removing_an_override_keeps_the_rest_of_the_policy(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    policy = RestraintPolicy(
        default_caps=ChannelCaps(daily=2, weekly=5),
        caps={Channel.SMS: ChannelCaps(daily=1), Channel.EMAIL: ChannelCaps(monthly=9)},
        quiet_hours=True,
        quiet_start=time(22, 0),
        quiet_end=time(8, 0),
        zone="Asia/Shanghai",
    )
    load.save_policy(runtime=runtime, workspace_id=ws, policy=policy, now=utcnow())

    done = load.remove_override(runtime=runtime, workspace_id=ws, channel=Channel.SMS, now=utcnow())
    stored = load.board(runtime=runtime, workspace_id=ws).policy
    assert done == stored
    assert stored.caps == {Channel.EMAIL: ChannelCaps(monthly=9)}
    assert stored.caps_for(Channel.SMS) == ChannelCaps(daily=2, weekly=5)
    assert stored.model_dump(exclude={"caps"}) == policy.model_dump(exclude={"caps"})
    sms = next(
        r for r in views.cap_rows(stored.default_caps, stored.caps, "en") if r["key"] == "sms"
    )
    assert (sms["daily"], sms["source"]) == ("2", "Default (every channel)")

    again = load.remove_override(
        runtime=runtime, workspace_id=ws, channel=Channel.SMS, now=utcnow()
    )
    assert again == stored  # nothing to drop: unchanged
    load.remove_override(runtime=runtime, workspace_id=ws, channel=Channel.EMAIL, now=utcnow())
    assert load.board(runtime=runtime, workspace_id=ws).policy.caps == {}
