"""Importers: CSV exports from ServiceNow, Entra ID, Slack, Nozomi, NetBox and
governance spreadsheets into the governance store.

    report = import_paths([Path("examples/corvane")], session=session)

Files are recognised by their header, applied in dependency order, reconciled
across sources and written all at once; any problem raises :class:`ImportFailed`
with every ``FILE:LINE: reason`` and nothing written.
"""

from governance_store.importers.errors import ImportFailed, ImportReport, RowError
from governance_store.importers.run import import_paths

__all__ = ["ImportFailed", "ImportReport", "RowError", "import_paths"]
