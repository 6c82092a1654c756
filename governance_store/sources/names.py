"""The live sources govbot syncs from, in the order ``govbot sync all`` runs them.

People come first (Entra ID, then ServiceNow, whose CMDB names them), then what refers to them:
Slack accounts join people by e-mail, NetBox devices join CMDB items by address and serial.
"""

from __future__ import annotations

import enum


class SourceName(enum.StrEnum):
    ENTRA = "entra"
    SERVICENOW = "servicenow"
    SLACK = "slack"
    NETBOX = "netbox"


LABELS = {
    SourceName.ENTRA: "Entra ID",
    SourceName.SERVICENOW: "ServiceNow",
    SourceName.SLACK: "Slack",
    SourceName.NETBOX: "NetBox",
}

ORDER = list(SourceName)


def label(source: str) -> str:
    try:
        return LABELS[SourceName(source)]
    except ValueError:
        return source
