"""Live sources: NetBox, ServiceNow, Entra ID and Slack synced into the governance store.

The connectors themselves (network clients) live in ``bot/sources``; this package holds what does
not depend on any client: the records a run fetched (``fetched``), their stored copies (``mirror``),
the per-source state and lease (``state``), facts govbot holds (``held``), the run itself (``sync``)
and the lint rule for sources that stopped syncing (``freshness``).
"""
