"""Builds the notification worker (sweep, digests, outbox delivery) with the senders that are configured."""

from __future__ import annotations

import datetime as dt
import logging

from bot.bootstrap import Container
from notifications.outbox import Sender
from notifications.scheduler import Worker

log = logging.getLogger(__name__)


def senders_from_settings(container: Container) -> list[Sender]:
    settings = container.settings
    senders: list[Sender] = []
    if settings.slack_bot_token is not None:
        from bot.slack.outbox import SlackOutboxSender

        senders.append(SlackOutboxSender.from_settings(
            container.session_factory, token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
        ))
    try:
        from bot.teams.sender import teams_sender_from_settings
    except ImportError:
        teams_sender_from_settings = None  # type: ignore[assignment]
    if teams_sender_from_settings is not None:
        teams = teams_sender_from_settings(container)
        if teams is not None:
            senders.append(teams)
    if not senders:
        log.warning("no chat platform is configured: notifications stay queued in the outbox")
    return senders


def build_worker(container: Container, senders: list[Sender] | None = None) -> Worker:
    worker = Worker(
        container.session_factory,
        senders if senders is not None else senders_from_settings(container),
        clock=container.clock,
        interval=container.settings.sweep_interval_seconds,
        per_channel_interval=container.settings.outbox_channel_interval_seconds,
        lease=container.settings.outbox_send_lease_seconds,
    )
    worker.dashboard_links = container.dashboard_links
    worker.digest_scopes = container.digest_scopes  # None: derived from the role assignments
    days = container.settings.outbox_retention_days
    worker.retention = dt.timedelta(days=days) if days > 0 else None
    return worker
