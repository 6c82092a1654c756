"""Slack adapter: translate (payload in), render (Block Kit out), sender (Web API port).

``bot.slack.app.SlackAdapter`` wires them into one bolt ``AsyncApp`` that the
web host (``bot.web``) serves over HTTP and ``bot.slack.socket_mode`` serves
over Socket Mode; ``bot.slack.workers`` runs the core off the event loop, and
``bot.slack.outbox`` is Slack's sender for the notification outbox.  Nothing in
``handlers/``, ``governance_store/`` or ``notifications/`` imports from here.
"""
