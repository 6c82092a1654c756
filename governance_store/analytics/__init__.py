"""Decision analytics: how long decisions take, before govbot and with it, and where they wait.

Pure queries and computation over the store, no presentation:

- :mod:`~governance_store.analytics.facts` loads every submitted change and its approvals once, as plain
  values with their waits in calendar time and in the business time of the system's site;
- :mod:`~governance_store.analytics.cycle` turns them into medians and 90th percentiles per site, change
  type, Purdue level, risk and week, for the imported history (the baseline) and for changes decided in
  govbot, and into SLA compliance per week;
- :mod:`~governance_store.analytics.bottlenecks` finds where decisions wait (a registry of small rules,
  each giving its numbers and the changes behind them);
- :mod:`~governance_store.analytics.coverage` gives the ownership coverage and open governance gaps over
  time;
- :mod:`~governance_store.analytics.report` puts them together for one scope, and
  :mod:`~governance_store.analytics.tables` lays the result out as tables for CSV and XLSX exports.
"""

from governance_store.analytics.report import DecisionReport, decision_report

__all__ = ["DecisionReport", "decision_report"]
