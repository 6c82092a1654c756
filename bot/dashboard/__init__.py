"""The read-only dashboard, the local web chat and ``/metrics``, all mounted on the one web host."""

from __future__ import annotations

from bot.dashboard.app import ChatMount, DashboardMount, WebInbox
from bot.dashboard.auth import DashboardAuthError
from bot.dashboard.metrics import MetricsMount, Registry

__all__ = ["ChatMount", "DashboardAuthError", "DashboardMount", "MetricsMount", "Registry", "WebInbox"]
