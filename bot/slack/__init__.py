"""Slack adapter: translate (payload in), render (Block Kit out), sender (Web API port).

``bot.slack.app.SlackAdapter`` wires them into one bolt ``AsyncApp`` that the
web host (``bot.web``) serves over HTTP and ``bot.slack.socket_mode`` serves
over Socket Mode.  Nothing in ``handlers/`` or ``governance_store/`` imports
from here.
"""
