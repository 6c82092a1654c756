"""The outbound port against the fake Slack: rate limits, server errors, user look-ups."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.render import SlackMessage
from bot.slack.sender import RetryAfterHandler, SlackSender, web_client
from tests.slack.fake_slack import FakeSlack

MESSAGE = SlackMessage(text="hello", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])


@pytest.fixture
async def sender(fake_slack: FakeSlack) -> AsyncIterator[SlackSender]:
    out = SlackSender(web_client(token="xoxb-test", base_url=fake_slack.api_url))
    await out.start()
    yield out
    await out.close()


async def test_a_rate_limited_call_waits_for_retry_after_then_succeeds(
    sender: SlackSender, fake_slack: FakeSlack, slack_payload: Any
) -> None:
    fake_slack.fail_next(1, payload=slack_payload("web_api_ratelimited_429.json"), retry_after="1",
                         method="chat.postMessage")
    started = time.monotonic()
    ts = await sender.post("C111", MESSAGE, thread_ts="1.0")
    waited = time.monotonic() - started
    assert ts
    attempts = fake_slack.calls("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 200]
    assert 1.0 <= waited < 3.0
    assert attempts[1].body["thread_ts"] == "1.0"


async def test_a_retry_after_longer_than_we_wait_gives_up_with_ratelimited(
    fake_slack: FakeSlack, slack_payload: Any
) -> None:
    payload = slack_payload("web_api_ratelimited_429.json")  # Retry-After: 30
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.api_url,
                            retry_handlers=[RetryAfterHandler(max_wait=5)])
    fake_slack.fail_next(1, payload=payload, retry_after=None)
    started = time.monotonic()
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C111", text="x")
    assert time.monotonic() - started < 2.0
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == payload["body"]["error"]


async def test_server_errors_are_retried(sender: SlackSender, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(2, status=500, method="chat.update")
    await sender.update("C111", "1.0", MESSAGE)
    assert [c.status for c in fake_slack.calls("chat.update", ok_only=False)] == [500, 500, 200]


async def test_response_url_posts_honour_rate_limits_too(sender: SlackSender, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(1, method="response_url", retry_after="0")
    assert await sender.respond(fake_slack.hook_url(), MESSAGE, response_type="ephemeral")
    posts = fake_slack.calls("response_url", ok_only=False)
    assert [c.status for c in posts] == [429, 200]
    assert posts[1].body == {"text": "hello", "blocks": MESSAGE.blocks, "response_type": "ephemeral"}


async def test_response_url_failure_is_reported_not_raised(sender: SlackSender, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(3, status=500, method="response_url")
    assert await sender.respond(fake_slack.hook_url(), MESSAGE) is False


async def test_user_lookups_in_slacks_shapes(sender: SlackSender, fake_slack: FakeSlack, slack_payload: Any) -> None:
    found = slack_payload("web_api_users_lookupByEmail_ok.json")
    user = found["user"]
    fake_slack.add_user(user["id"], email=user["profile"]["email"], real_name=user["real_name"], template=user)
    assert await sender.user_id_for_email(user["profile"]["email"].upper()) == user["id"]
    assert await sender.user_id_for_email("nobody@corvane.example") is None
    profile = await sender.user_profile(user["id"])
    assert profile is not None
    assert (profile.email, profile.real_name, profile.timezone) == (
        user["profile"]["email"], user["real_name"], user["tz"])
    assert await sender.user_profile("U0NOBODY") is None
    # The fake answers a miss exactly as Slack documents it.
    miss = fake_slack._answer("users.lookupByEmail", fake_slack.calls("users.lookupByEmail")[-1])
    assert miss == slack_payload("web_api_users_lookupByEmail_users_not_found.json")


async def test_post_message_answer_has_slacks_shape(sender: SlackSender, fake_slack: FakeSlack,
                                                    slack_payload: Any) -> None:
    documented = slack_payload("web_api_chat_postMessage_ok.json")
    await sender.post("C1H9RESGL", MESSAGE)
    answer = fake_slack._answer("chat.postMessage", fake_slack.calls("chat.postMessage")[-1])
    assert set(documented) <= set(answer)
    assert {"ts", "type", "text", "bot_id"} <= set(answer["message"])
