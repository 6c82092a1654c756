"""The Microsoft Teams adapter: translate (activity → command), render (Reply → Adaptive Card),
sender (outbox port) and the ``POST /api/messages`` mount.  Only this package knows botbuilder."""
