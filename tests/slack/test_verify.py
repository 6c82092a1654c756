"""Request signatures: Slack's documented example, the five-minute window, and no way to switch it off."""

from __future__ import annotations

from typing import Any

import pytest
from slack_bolt.app.async_app import AsyncApp

from bot.slack.verify import MAX_AGE_SECONDS, FixedClock, install_verifier, signature_verifier


def test_documented_example_is_valid_at_its_own_timestamp(slack_payload: Any) -> None:
    vector = slack_payload("slash_command_signed_docs_example.json")
    body = slack_payload("slash_command_signed_docs_example.txt")
    ts = vector["headers"]["X-Slack-Request-Timestamp"]
    sig = vector["headers"]["X-Slack-Signature"]
    at_the_time = signature_verifier(vector["signing_secret"], clock=FixedClock(int(ts)))
    assert at_the_time.is_valid(body, ts, sig)
    assert at_the_time.is_valid_request(body, vector["headers"])
    assert at_the_time.generate_signature(timestamp=ts, body=body) == sig


@pytest.mark.parametrize("offset", [MAX_AGE_SECONDS + 1, -(MAX_AGE_SECONDS + 1), 6 * 60])
def test_documented_example_is_refused_outside_the_window(slack_payload: Any, offset: int) -> None:
    vector = slack_payload("slash_command_signed_docs_example.json")
    ts = int(vector["headers"]["X-Slack-Request-Timestamp"])
    verifier = signature_verifier(vector["signing_secret"], clock=FixedClock(ts + offset))
    assert not verifier.is_valid(vector["body"], str(ts), vector["headers"]["X-Slack-Signature"])


def test_documented_example_is_refused_with_another_secret_or_body(slack_payload: Any) -> None:
    vector = slack_payload("slash_command_signed_docs_example.json")
    ts = vector["headers"]["X-Slack-Request-Timestamp"]
    sig = vector["headers"]["X-Slack-Signature"]
    assert not signature_verifier("another-secret", clock=FixedClock(int(ts))).is_valid(vector["body"], ts, sig)
    verifier = signature_verifier(vector["signing_secret"], clock=FixedClock(int(ts)))
    assert not verifier.is_valid(vector["body"].replace("roadrunner", "coyote"), ts, sig)
    assert not verifier.is_valid(vector["body"], ts, None)


def test_our_verifier_is_installed_in_bolt_and_verification_cannot_be_missing() -> None:
    app = AsyncApp(token="xoxb-x", signing_secret="s3cret")
    verifier = signature_verifier("s3cret", clock=FixedClock(0))
    install_verifier(app, verifier)
    from slack_bolt.middleware.request_verification.async_request_verification import AsyncRequestVerification

    [middleware] = [m for m in app._async_middleware_list if isinstance(m, AsyncRequestVerification)]
    assert middleware.verifier is verifier

    unverified = AsyncApp(token="xoxb-x", signing_secret="s3cret", request_verification_enabled=False)
    with pytest.raises(RuntimeError, match="verification is not active"):
        install_verifier(unverified, verifier)
