"""Connectors to the live sources: NetBox (pynetbox), ServiceNow's Table API (pysnc), Microsoft Graph
for Entra ID (its REST API over requests) and Slack (slack_sdk).  Each fetches what changed and maps
its records to the rows of the matching export; ``governance_store.sources.sync`` does the rest."""
