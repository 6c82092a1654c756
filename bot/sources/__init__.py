"""Connectors to the live sources: NetBox (pynetbox), ServiceNow's Table API (pysnc) and Microsoft Graph for
Entra ID (its REST API over requests); Slack's member directory is read by ``bot.slack.directory`` (the Slack
SDK stays in the Slack adapter).  Each fetches what changed and maps its records to the rows of the matching
export; ``governance_store.sources.sync`` does the rest."""
