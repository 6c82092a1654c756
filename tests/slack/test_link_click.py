"""Slack reports clicks on URL buttons too; govbot acknowledges them and posts nothing."""

from __future__ import annotations

from handlers.reply import LINK
from tests.slack.conftest import SlackHost


async def test_clicking_a_link_button_only_acknowledges(host: SlackHost) -> None:
    status, _ = await host.click(host.button_click(action_id=LINK, value=""))
    assert status == 200
    await host.fake.settle()
    assert host.fake.posted() == [] and host.fake.calls("chat.update") == []
    # An ordinary click on the same host is answered (the rig is live).
    status, _ = await host.click(host.button_click(action_id="govbot.run", value="who owns PLC-FIL-L3-07"))
    assert status == 200
    assert await host.fake.wait_for("chat.update") or host.fake.posted()
