"""Socket Mode: the same bolt app, fed over Slack's websocket instead of HTTP.

Slack's ``apps.connections.open`` (a Web API call with the ``xapp-`` token)
returns the websocket URL, so pointing the Web API client's ``base_url`` at a
test server is enough to point the websocket at a test server too; ``wss_url``
overrides it outright.  Envelopes Slack delivers twice are acknowledged again
and skipped (see :mod:`bot.slack.dedup`).
"""

from __future__ import annotations

import logging
from time import time

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.app import SlackAdapter

log = logging.getLogger(__name__)


class GovbotSocketModeHandler(AsyncSocketModeHandler):
    def __init__(
        self, adapter: SlackAdapter, app_token: str, *, wss_url: str | None = None, ping_interval: float = 10
    ) -> None:
        super().__init__(adapter.bolt, app_token, web_client=adapter.client, ping_interval=ping_interval)
        self.adapter = adapter
        if wss_url:
            self.client.wss_uri = wss_url

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        deliveries = self.adapter.deliveries
        if not deliveries.start_envelope(req.envelope_id):
            log.info("envelope %s delivered again; acknowledging without handling it twice", req.envelope_id)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        started = time()
        try:
            bolt_resp = await run_async_bolt_app(self.app, req)
        except BaseException:
            deliveries.envelope_failed(req.envelope_id)
            raise
        if bolt_resp.status != 200:
            # Not acknowledged (bolt sends no ack for a failure), so Slack delivers it again; handle it then.
            deliveries.envelope_failed(req.envelope_id)
        await send_async_response(client, req, bolt_resp, started)
