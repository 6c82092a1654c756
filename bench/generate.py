"""Synthetic plant generator: a multi-site beverage company in the corvane file shapes.

``generate_plant(out_dir, n_systems, seed=7)`` writes the same files, with the
same header rows, as ``examples/corvane``:

    sites.csv, isa95_hierarchy.csv, zones.csv, teams.csv,
    servicenow_sys_user.csv, servicenow_sys_user_group.csv,
    servicenow_sys_user_grmember.csv, entra_users.csv,
    cmdb_ci.csv (ServiceNow display-value export, ``n_systems`` rows),
    ot_inventory_nozomi.csv (``n_systems`` OT sightings),
    govbot-import.toml (the display-value export's time zone: ``EXPORT_TIMEZONE``)

The organisation scales with ``n_systems``: about one site per 2,000 systems
(at least two; one in three is a German "Werk" with German local names), each
with a filling hall of production lines and work cells, a syrup room,
utilities (CIP, ammonia refrigeration, compressed air), a warehouse and a
control room; plus corporate applications at ``CORP``.  Line devices are
named ``PLC-FDL-FIL-L3-07`` / ``SPS-RGB-ABF-L1-01`` (class, site, cell, line,
number: the site token keeps names unique across the enterprise); site
systems are named like the sample (``SCADA-FDL-01``, ``Historian (AVEVA PI)
Plant 2``, ``SIS-FDL-NH3-01``, ``F-SPS-RGB-KAE-01``).

Every IP, MAC, serial number and asset tag in ``cmdb_ci.csv`` is unique.
Owners, managers and groups reference generated people and teams by display
name; dates are ``YYYY-MM-DD HH:MM:SS``.  About 96 % of the OT sightings
match a CMDB row by IP, MAC and serial (lower case, as Nozomi reports them;
1 % of them from a new IP, matching by MAC and serial only); the rest are
devices the CMDB does not know (remote-access routers, serial servers,
laptops, cameras) in 172.16.0.0/12.

The output depends only on ``n_systems`` and ``seed``.  Rows are written as
they are made, so memory stays flat; 100k systems take a few seconds.

In memory: ``Plant(n_systems, seed).iter_systems()`` yields the CMDB and OT
rows (as lists in header order) together with the ISA-95 node each system
sits in, for benchmarks that need no files.

CLI: ``python -m bench.generate OUT_DIR --systems N [--seed S]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

# --------------------------------------------------------------------------- headers (as in examples/corvane)

SITES_HEADER = [
    "site_code", "name", "isa95_node_id", "country", "region", "timezone",
    "business_hours_local", "oncall_channel", "language",
]  # fmt: skip
HIERARCHY_HEADER = ["node_id", "parent_node_id", "isa95_level", "name", "local_name", "site_code", "timezone"]
ZONES_HEADER = ["zone_id", "site_code", "zone_name", "purdue_level", "sl_target", "zone_owner_role", "description"]
TEAMS_HEADER = ["team_id", "name", "kind", "site_code", "manager", "members", "email", "description"]
SN_USER_HEADER = [
    "sys_id", "user_name", "name", "first_name", "last_name", "email", "title", "department",
    "manager", "active", "time_zone", "company", "employee_number",
]  # fmt: skip
SN_GROUP_HEADER = ["sys_id", "name", "manager", "parent", "type", "email", "active", "description"]
SN_GRMEMBER_HEADER = ["sys_id", "group", "user"]
ENTRA_HEADER = [
    "id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "jobTitle",
    "department", "companyName", "officeLocation", "city", "country", "usageLocation",
    "employeeId", "employeeType", "userType", "accountEnabled", "createdDateTime",
    "manager_userPrincipalName",
]  # fmt: skip
CMDB_HEADER = [
    "sys_id", "name", "u_alias", "sys_class_name", "u_site_code", "location", "u_purdue_level",
    "u_security_zone", "manufacturer", "model_id", "serial_number", "asset_tag", "ip_address",
    "mac_address", "company", "owned_by", "managed_by", "managed_by_group", "support_group",
    "assignment_group", "u_business_criticality", "install_status", "operational_status",
    "discovery_source", "sys_updated_on",
]  # fmt: skip
OT_HEADER = [
    "id", "name", "level", "appliance_hosts", "capture_device", "ip", "mac_address", "mac_vendor",
    "vendor", "product_name", "firmware_version", "serial_number", "os", "os_or_firmware", "type",
    "roles", "protocols", "zones", "vlan_id", "custom_fields",
]  # fmt: skip

# Column positions used by consumers of ``iter_systems``.
CMDB = {name: i for i, name in enumerate(CMDB_HEADER)}
OT = {name: i for i, name in enumerate(OT_HEADER)}

ORG = "Aldermoor Beverages"
DOMAIN = "aldermoor.example"
COMPANY = {"US": "Aldermoor Beverages Inc.", "DE": "Aldermoor Beverages GmbH"}
SYSTEMS_PER_SITE = 2_000

CRITICALITY = ["1 - most critical", "2 - somewhat critical", "3 - less critical", "4 - not critical"]

# --------------------------------------------------------------------------- places

def _words(text: str) -> list[str]:
    return text.split()


US_CITIES = [
    ("Findlay", "FDL", "Ohio", "America/New_York"), ("Dayton", "", "Ohio", "America/New_York"),
    ("Toledo", "", "Ohio", "America/New_York"), ("Lima", "", "Ohio", "America/New_York"),
    ("Akron", "", "Ohio", "America/New_York"), ("Canton", "", "Ohio", "America/New_York"),
    ("Fort Wayne", "", "Indiana", "America/Indiana/Indianapolis"),
    ("Lafayette", "", "Indiana", "America/Indiana/Indianapolis"),
    ("Muncie", "", "Indiana", "America/Indiana/Indianapolis"),
    ("Kalamazoo", "", "Michigan", "America/Detroit"), ("Saginaw", "", "Michigan", "America/Detroit"),
    ("Grand Rapids", "", "Michigan", "America/Detroit"), ("Peoria", "", "Illinois", "America/Chicago"),
    ("Rockford", "", "Illinois", "America/Chicago"), ("Decatur", "", "Illinois", "America/Chicago"),
    ("Green Bay", "", "Wisconsin", "America/Chicago"), ("Eau Claire", "", "Wisconsin", "America/Chicago"),
    ("Oshkosh", "", "Wisconsin", "America/Chicago"), ("Cedar Rapids", "", "Iowa", "America/Chicago"),
    ("Dubuque", "", "Iowa", "America/Chicago"), ("Sioux City", "", "Iowa", "America/Chicago"),
    ("Joplin", "", "Missouri", "America/Chicago"), ("Springfield", "", "Missouri", "America/Chicago"),
    ("Wichita", "", "Kansas", "America/Chicago"), ("Lincoln", "", "Nebraska", "America/Chicago"),
    ("Fargo", "", "North Dakota", "America/Chicago"), ("Knoxville", "", "Tennessee", "America/New_York"),
    ("Chattanooga", "", "Tennessee", "America/New_York"), ("Lexington", "", "Kentucky", "America/New_York"),
    ("Bowling Green", "", "Kentucky", "America/Chicago"), ("Roanoke", "", "Virginia", "America/New_York"),
    ("Allentown", "", "Pennsylvania", "America/New_York"), ("Erie", "", "Pennsylvania", "America/New_York"),
    ("Scranton", "", "Pennsylvania", "America/New_York"), ("Syracuse", "", "New York", "America/New_York"),
    ("Rochester", "", "New York", "America/New_York"), ("Albany", "", "New York", "America/New_York"),
    ("Greenville", "", "South Carolina", "America/New_York"), ("Macon", "", "Georgia", "America/New_York"),
    ("Tampa", "", "Florida", "America/New_York"), ("Mobile", "", "Alabama", "America/Chicago"),
    ("Shreveport", "", "Louisiana", "America/Chicago"), ("Tulsa", "", "Oklahoma", "America/Chicago"),
    ("Amarillo", "", "Texas", "America/Chicago"), ("Waco", "", "Texas", "America/Chicago"),
    ("El Paso", "", "Texas", "America/Denver"), ("Pueblo", "", "Colorado", "America/Denver"),
    ("Ogden", "", "Utah", "America/Denver"), ("Boise", "", "Idaho", "America/Boise"),
    ("Spokane", "", "Washington", "America/Los_Angeles"), ("Yakima", "", "Washington", "America/Los_Angeles"),
    ("Salem", "", "Oregon", "America/Los_Angeles"), ("Fresno", "", "California", "America/Los_Angeles"),
    ("Modesto", "", "California", "America/Los_Angeles"), ("Bakersfield", "", "California", "America/Los_Angeles"),
    ("Reno", "", "Nevada", "America/Los_Angeles"), ("Tucson", "", "Arizona", "America/Phoenix"),
]  # fmt: skip

DE_CITIES = [
    ("Regensburg", "RGB", "Bayern"), ("Ingolstadt", "", "Bayern"), ("Landshut", "", "Bayern"),
    ("Passau", "", "Bayern"), ("Würzburg", "", "Bayern"), ("Bamberg", "", "Bayern"),
    ("Fürth", "", "Bayern"), ("Kempten", "", "Bayern"), ("Rosenheim", "", "Bayern"),
    ("Ulm", "", "Baden-Württemberg"), ("Heilbronn", "", "Baden-Württemberg"),
    ("Reutlingen", "", "Baden-Württemberg"), ("Pforzheim", "", "Baden-Württemberg"),
    ("Göppingen", "", "Baden-Württemberg"), ("Offenburg", "", "Baden-Württemberg"),
    ("Kassel", "", "Hessen"), ("Fulda", "", "Hessen"), ("Gießen", "", "Hessen"),
    ("Lüneburg", "", "Niedersachsen"), ("Göttingen", "", "Niedersachsen"), ("Oldenburg", "", "Niedersachsen"),
    ("Osnabrück", "", "Niedersachsen"), ("Bielefeld", "", "Nordrhein-Westfalen"),
    ("Münster", "", "Nordrhein-Westfalen"), ("Paderborn", "", "Nordrhein-Westfalen"),
    ("Mönchengladbach", "", "Nordrhein-Westfalen"), ("Krefeld", "", "Nordrhein-Westfalen"),
    ("Düren", "", "Nordrhein-Westfalen"), ("Koblenz", "", "Rheinland-Pfalz"), ("Trier", "", "Rheinland-Pfalz"),
    ("Saarbrücken", "", "Saarland"), ("Erfurt", "", "Thüringen"), ("Jena", "", "Thüringen"),
    ("Chemnitz", "", "Sachsen"), ("Zwickau", "", "Sachsen"), ("Magdeburg", "", "Sachsen-Anhalt"),
    ("Cottbus", "", "Brandenburg"), ("Lübeck", "", "Schleswig-Holstein"), ("Rostock", "", "Mecklenburg-Vorpommern"),
]  # fmt: skip

US_FIRST = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy Matthew Betty Anthony Sandra "
    "Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle Kenneth Carol Kevin "
    "Amanda Brian Melissa Gregory Deborah Luis Stephanie Timothy Rebecca Ronald Laura Jason Helen Ryan Sharon "
    "Jacob Cynthia Gary Kathleen Nicholas Amy Eric Angela Jonathan Shirley Priya Aisha Marcus Elena Hannah "
    "Rachel Dana Olivia Sofia Nina Ray Chris Tom Mike Kevin Raj Wei Mei Omar Fatima Carlos Ana Diego Lucia"
)
US_LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez "
    "Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker "
    "Hall Rivera Campbell Mitchell Carter Roberts Caldwell Maddox Ortega Park Whitfield Okafor Raman Alvarez "
    "Grant Brennan Bello Tran Kowalski Petrova Novak Reyes Sullivan Castillo Dawson Patel Shah Kim Chen Wang "
    "Murphy Cook Rogers Morgan Peterson Cooper Reed Bailey Bell Gomez Kelly Howard Ward Cox Diaz Richardson"
)
DE_FIRST = _words(
    "Stefan Katrin Jürgen Johanna Matthias Sabine Lukas Felix Andreas Thomas Michael Andrea Petra Monika "
    "Wolfgang Klaus Uwe Jörg Björn Günther Sören Maximilian Alexander Julia Anna Laura Lea Lena Sophie "
    "Christian Markus Tobias Florian Sebastian Daniel Martin Frank Ralf Bernd Dieter Ute Birgit Claudia "
    "Susanne Nicole Tanja Anja Heike Karin Renate Ingrid Gisela Tim Jan Nils Moritz Paul Emil Hannes"
)
DE_LAST = _words(
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter "
    "Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt Werner "
    "Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter Mayer Huber Kaiser "
    "Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel Friedrich Keller Günther Frank Berger "
    "Winkler Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin "
    "Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Gruber Brandl"
)

# --------------------------------------------------------------------------- equipment catalogue

# kind -> country -> (manufacturer, model, mac vendor, product, firmware, serial format, OUI, os, type, roles, protocols)
_ROCKWELL = "Rockwell Automation"
_AB = "Rockwell Automation/Allen-Bradley"
CATALOGUE: dict[str, dict[str, tuple[str, ...]]] = {
    "plc": {
        "US": (_ROCKWELL, "CompactLogix 5380 (5069-L330ER)", _AB, "5069-L330ER/A", "33.011", "hex8",
               "5c:88:16", "", "OT_device", "slave", "ethernetip;cip"),
        "DE": ("Siemens AG", "SIMATIC S7-1500 CPU 1516-3 PN/DP (6ES7516-3AN02-0AB0)", "Siemens AG",
               "CPU 1516-3 PN/DP", "V2.9.4", "simatic", "28:63:36", "", "OT_device", "slave", "s7plus;profinet_io"),
    },
    "sis": {
        "US": (_ROCKWELL, "GuardLogix 5580 (1756-L84ES)", _AB, "1756-L84ES/B", "33.012", "hex8",
               "5c:88:16", "", "OT_device", "slave", "ethernetip;cip"),
        "DE": ("Siemens AG", "SIMATIC S7-1500F CPU 1516F-3 PN/DP", "Siemens AG", "CPU 1516F-3 PN/DP",
               "V2.9.4", "simatic", "28:63:36", "", "OT_device", "slave", "s7plus;profinet_io"),
    },
    "hmi": {
        "US": (_ROCKWELL, "PanelView Plus 7 Performance (2711P-T10C22D9P)", _AB, "2711P-T10C22D9P", "14.100",
               "hex8", "5c:88:16", "Windows CE", "OT_device", "master", "ethernetip;cip;http"),
        "DE": ("Siemens AG", "SIMATIC HMI TP1200 Comfort (6AV2124-0MC01-0AX0)", "Siemens AG", "TP1200 Comfort",
               "V17.0.0.0", "simatic_hmi", "28:63:36", "Windows CE", "OT_device", "master", "s7plus;http"),
    },
    "vfd": {
        "US": (_ROCKWELL, "PowerFlex 525 (25B-D010N104)", _AB, "PowerFlex 525", "7.001", "hex8",
               "00:1d:9c", "", "OT_device", "slave", "ethernetip"),
        "DE": ("Siemens AG", "SINAMICS G120 CU250S-2 PN", "Siemens AG", "SINAMICS G120 CU250S-2 PN",
               "V4.7 SP13", "sinamics", "28:63:36", "", "OT_device", "slave", "profinet_io"),
    },
    "robot": {
        "US": ("FANUC", "M-410iC/185 with R-30iB Plus", "FANUC CORPORATION", "R-30iB Plus", "V9.30P",
               "fanuc", "00:e0:e4", "", "OT_device", "slave", "ethernetip"),
        "DE": ("KUKA", "KR 180 R2500 with KR C5", "KUKA Deutschland GmbH", "KR C5", "KSS 8.7",
               "kuka", "00:0c:8b", "", "OT_device", "slave", "profinet_io"),
    },
    "sensor": {
        "US": ("Endress+Hauser", "Proline Promag W 400 (5W4C)", "Endress+Hauser", "Promag 400", "01.05.00",
               "eh", "00:07:05", "", "OT_device", "slave", "ethernetip"),
        "DE": ("Endress+Hauser", "Proline Promag H 300 (5H3B)", "Endress+Hauser", "Promag 300", "01.06.00",
               "eh", "00:07:05", "", "OT_device", "slave", "profinet_io"),
    },
    "rio": {
        "US": (_ROCKWELL, "POINT I/O Adapter (1734-AENTR)", _AB, "1734-AENTR/B", "6.002", "hex8",
               "5c:88:16", "", "OT_device", "slave", "ethernetip;cip"),
        "DE": ("Siemens AG", "SIMATIC ET 200SP IM 155-6 PN HF", "Siemens AG", "IM 155-6 PN HF", "V4.2.1",
               "simatic", "28:63:36", "", "OT_device", "slave", "profinet_io"),
    },
    "switch": {
        "US": ("Cisco", "Catalyst IE3400 (IE-3400-8P2S)", "Cisco Systems, Inc", "", "", "cisco",
               "70:1f:53", "IOS XE", "-", "other", "snmp;ssh;lldp"),
        "DE": ("Siemens AG", "SCALANCE XC216-4C (6GK5216-4BS00-2AC2)", "Siemens AG", "SCALANCE XC216-4C",
               "V4.5", "scalance", "20:87:56", "", "-", "other", "snmp;https;lldp;profinet_dcp"),
    },
    "cellfw": {
        "US": ("Fortinet", "FortiGate Rugged 60F", "Fortinet, Inc.", "", "", "fortinet", "04:d5:90",
               "FortiOS", "-", "other", "https;ssh"),
    },
    "idmzfw": {
        "US": ("Palo Alto Networks", "PA-3220", "Palo Alto Networks", "", "", "paloalto", "b4:0c:25",
               "PAN-OS", "-", "other", "https;ssh"),
    },
    "scada": {
        "US": ("Inductive Automation", "Ignition 8.1 on Dell PowerEdge R650", "Dell Inc.", "", "", "dell",
               "b0:7b:25", "Windows Server 2019", "computer", "master", "ethernetip;cip;https;opcua"),
        "DE": ("Siemens AG", "SIMATIC WinCC V8.0 on SIMATIC IPC847E", "Siemens AG", "", "", "ipc",
               "28:63:36", "Windows Server 2019", "computer", "master", "s7plus;opcua;https"),
    },
    "ews": {
        "US": ("Dell", "Precision 3660 Tower", "Dell Inc.", "", "", "dell", "b0:7b:25", "Windows 10",
               "computer", "other", "ethernetip;cip;rdp;smb"),
        "DE": ("Siemens AG", "SIMATIC Field PG M6", "Siemens AG", "", "", "ipc", "28:63:36", "Windows 10",
               "computer", "other", "s7plus;profinet_dcp;rdp;smb"),
    },
    "historian": {
        "US": ("AVEVA", "PI Server 2018 SP3 Patch 4 on HPE ProLiant DL360 Gen10", "Hewlett Packard Enterprise",
               "", "", "hpe", "94:40:c9", "Windows Server 2019", "computer", "other", "opcua;https;smb"),
    },
    "mes": {
        "US": ("AVEVA", "AVEVA MES 2023", "VMware, Inc.", "", "", "", "", "Windows Server 2022", "computer",
               "web_server", "https;mssql;opcua"),
        "DE": ("Siemens AG", "Opcenter Execution Process 2401", "VMware, Inc.", "", "", "", "",
               "Windows Server 2022", "computer", "web_server", "https;mssql;opcua"),
    },
    "lims": {
        "US": ("LabWare", "LabWare LIMS 8", "VMware, Inc.", "", "", "", "", "Windows Server 2019", "computer",
               "web_server", "https;mssql"),
    },
    "pco": {
        "US": ("SAP", "SAP Plant Connectivity 15.4", "VMware, Inc.", "", "", "", "", "Windows Server 2019",
               "computer", "other", "opcua;https"),
    },
    "nozomi": {
        "US": ("Nozomi Networks", "Guardian NSG-M 750R", "Nozomi Networks", "", "", "nozomi", "00:1e:c0",
               "N2OS", "computer", "web_server", "https;ssh"),
    },
    "jump": {
        "US": ("VMware", "Virtual Machine (Windows Server 2022)", "VMware, Inc.", "", "", "vmware", "00:50:56",
               "Windows Server 2022", "computer", "terminal", "rdp;https"),
    },
    "fileserver": {
        "US": ("VMware", "Virtual Machine (Windows Server 2019)", "VMware, Inc.", "", "", "vmware", "00:50:56",
               "Windows Server 2019", "computer", "other", "smb;rdp"),
    },
    "edge": {
        "US": ("Dell", "Edge Gateway 3200 (Azure IoT Edge 1.4)", "Dell Inc.", "", "", "dell", "d0:67:e5",
               "Ubuntu Core 20", "computer", "other", "mqtt;amqp;opcua;https"),
    },
}  # fmt: skip

CLASS_NAME = {
    "plc": "PLC", "sis": "PLC", "hmi": "HMI", "vfd": "Industrial Drive", "robot": "Industrial Robot",
    "sensor": "Industrial Sensor", "rio": "Remote I/O", "switch": "IP Switch", "cellfw": "IP Firewall",
    "idmzfw": "IP Firewall", "scada": "SCADA Server", "ews": "EWS", "historian": "Historian",
    "mes": "Application", "lims": "Application", "pco": "Application", "nozomi": "Hardware",
    "jump": "Windows Server", "fileserver": "Windows Server", "edge": "Computer", "app": "Application",
}  # fmt: skip

# Nozomi names controllers and field devices by IP, computers and network gear by hostname.
OT_NAMED_BY_IP = {"plc", "sis", "hmi", "vfd", "robot", "sensor", "rio", "idmzfw"}

# Work cells: code, English name, German name, German code.
CELLS = [
    ("FIL", "Filler", "Füller", "ABF"), ("SEA", "Seamer", "Verschließer", "VER"),
    ("LAB", "Labeler", "Etikettierer", "ETI"), ("PAL", "Palletizer", "Palettierer", "PAL"),
    ("CPK", "Case Packer", "Packer", "PAC"), ("BLM", "Blow Molder", "Blasmaschine", "BLM"),
    ("INS", "Inspector", "Inspektor", "INS"), ("WRP", "Stretch Wrapper", "Wickler", "WIC"),
    ("RNS", "Rinser", "Rinser", "RIN"), ("CNV", "Conveyors", "Transportanlage", "TRA"),
]  # fmt: skip
LINE_KINDS = [("Cans", "Dose"), ("PET", "PET"), ("Glass", "Glas"), ("PET aseptic", "PET aseptisch"), ("Kegs", "Fass")]
DEVICE_CYCLE = ["plc", "hmi", "vfd", "sensor", "vfd", "rio", "sensor", "vfd", "hmi", "vfd", "sensor", "robot",
                "vfd", "sensor", "plc", "vfd"]  # fmt: skip
SENSOR_KINDS = [("FT", "flow", "Durchfluss"), ("TT", "temperature", "Temperatur"),
                ("PT", "pressure", "Druck"), ("LT", "level", "Füllstand")]  # fmt: skip

CORP_APPS = [
    ("SAP S/4HANA", "ERP", "SAP", "SAP S/4HANA 2022 FPS02", "sap"),
    ("Corporate Active Directory", "AD DS", "Microsoft", "Active Directory Domain Services", "it"),
    ("Microsoft Entra ID", "Azure AD", "Microsoft", "Microsoft Entra ID P2", "it"),
    ("Azure IoT Hub", "IoT Hub", "Microsoft", "Azure IoT Hub S2", "data"),
    ("OT Data Lake", "OT Analytics Lakehouse", "Microsoft", "Azure Data Lake Storage Gen2 + Azure Databricks", "data"),
    ("Nozomi Vantage", "OT monitoring SaaS", "Nozomi Networks", "Vantage (SaaS)", "sec"),
    ("ServiceNow ITSM", "ITSM", "ServiceNow", "ServiceNow Vancouver", "it"),
    ("Workday HCM", "HR system", "Workday", "Workday HCM", "it"),
    ("Power BI", "Reporting", "Microsoft", "Power BI Premium P1", "data"),
    ("Veeam Backup", "Backup", "Veeam", "Veeam Backup & Replication 12", "it"),
    ("Splunk Enterprise", "SIEM", "Splunk", "Splunk Enterprise 9.2", "sec"),
    ("CrowdStrike Falcon", "EDR", "CrowdStrike", "Falcon Insight XDR", "sec"),
    ("SAP Ariba", "Procurement", "SAP", "SAP Ariba Buying", "sap"),
    ("SAP Integrated Business Planning", "IBP", "SAP", "SAP IBP 2402", "sap"),
    ("Maximo CMMS", "CMMS", "IBM", "Maximo Application Suite 8.11", "sap"),
    ("Claroty xDome", "OT asset visibility", "Claroty", "xDome (SaaS)", "sec"),
]  # fmt: skip
CORP_ENVS = ["Production", "QA", "Development", "Training", "DR", "Sandbox"]
CORP_REGIONS = ["East US 2", "Germany West Central", "North Europe", "Central US", "West Europe"]

GLOBAL_TEAMS = [
    ("IT Service Desk", "IT", "it-servicedesk", "First-line IT support, ITSM process owner (change, incident)"),
    ("IT Infrastructure & Network", "IT", "it-infra", "Data center, WAN/LAN, IDMZ firewalls, Active Directory, backup"),
    ("Enterprise Applications - SAP", "IT", "sap-apps", "SAP S/4HANA, SAP PCo interfaces, CMMS"),
    ("OT Security", "Security", "ot-security", "ICS security architecture, zones/conduits, OT monitoring"),
    ("Security Operations Center", "Security", "soc", "24x7 monitoring, incident handling"),
    ("Data & Analytics Platform", "Data", "data-platform", "Azure IoT/Data Lake/Databricks, data governance"),
    ("Manufacturing Systems (MES/LIMS)", "IT/OT", "mfg-systems", "MES, LIMS, historians (application level)"),
]  # fmt: skip

_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def _ascii(text: str) -> str:
    return text.translate(_TRANSLIT)


def _b36(value: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(width):
        value, rem = divmod(value, 36)
        out.append(digits[rem])
    return "".join(reversed(out))


# --------------------------------------------------------------------------- model of the organisation


@dataclass
class Person:
    display: str
    first: str
    last: str
    email: str
    title: str
    department: str
    country: str
    city: str
    office: str
    tz: str
    employee_id: str
    sn_sys_id: str
    aad_id: str
    manager: Person | None = None
    active: bool = True
    guest: bool = False

    @property
    def user_name(self) -> str:
        return self.email.split("@")[0]


@dataclass
class Team:
    team_id: str
    name: str
    kind: str
    site_code: str
    manager: Person
    members: list[Person]
    email: str
    description: str
    sys_id: str


@dataclass
class Line:
    number: int
    kind: tuple[str, str]
    cells: list[tuple[str, str, str, str]]
    node_id: str


@dataclass
class Site:
    index: int
    code: str
    short: str
    city: str
    label: str
    country: str
    region: str
    tz: str
    plant_no: int
    name: str
    n_systems: int
    lines: list[Line] = field(default_factory=list)
    people: dict[str, list[Person]] = field(default_factory=dict)
    ot_team: str = ""
    ops_team: str = ""

    @property
    def german(self) -> bool:
        return self.country == "DE"

    def area(self, key: str) -> tuple[str, str, str]:
        """(node id, English name, local name) of an area of this site."""
        code_en, code_de, en, de = AREAS[key]
        code = code_de if self.german else code_en
        return f"{self.short}-{code}", en, de if self.german else en

    def location(self, area_key: str) -> str:
        _, en, local = self.area(area_key)
        if self.german:
            return f"Werk {self.label} - {local}"
        return f"{self.label} Plant {self.plant_no} - {en}"


# area key -> (US code, DE code, English name, German name)
AREAS = {
    "FH": ("FH", "ABF", "Filling Hall", "Abfüllhalle"),
    "SYR": ("SYR", "SIR", "Syrup Room", "Sirupraum"),
    "UT": ("UT", "EZ", "Utilities", "Energiezentrale"),
    "WH": ("WH", "LAG", "Warehouse", "Lager"),
    "CR": ("CR", "LS", "Control & Server Room", "Leitstand/Serverraum"),
}
# unit key -> (area, code, English name, German name, ISA-95 level)
UNITS = {
    "MIX": ("SYR", "MIX", "Batch Mixing", "Ansatz/Mischen", "process_cell"),
    "CIP": ("UT", "CIP", "CIP Skid", "CIP-Anlage", "production_unit"),
    "NH3": ("UT", "NH3", "Ammonia Refrigeration", "Kälteanlage (NH3)", "production_unit"),
    "AIR": ("UT", "AIR", "Compressed Air", "Drucklufterzeugung", "production_unit"),
    "FG": ("WH", "FG", "Finished Goods", "Fertigware", "storage_zone"),
}


class GeneratedSystem(NamedTuple):
    """One system as the generator made it: its CMDB row, its OT sighting, its ISA-95 node."""

    cmdb: list[str]
    ot: list[str]
    node_id: str
    ot_matches: bool


class Plant:
    """The synthetic organisation for ``n_systems`` systems and a seed."""

    def __init__(self, n_systems: int, seed: int = 7) -> None:
        if n_systems < 0:
            raise ValueError("n_systems must be >= 0")
        if n_systems >= 1 << 24:
            raise ValueError("at most 16,777,215 systems (MAC addresses would repeat)")
        self.n_systems = n_systems
        self.seed = seed
        self._rng = random.Random(seed)
        self._hexmix = random.Random(seed * 7919 + 1).getrandbits(32)
        self._email_taken: set[str] = set()
        self._display_taken: set[str] = set()
        self._employee_no = 40000
        self.people: list[Person] = []
        self.teams: list[Team] = []
        self.global_people: dict[str, list[Person]] = {}
        n_corp = min(n_systems // 100, 400)
        self.n_corp = n_corp
        self.sites = self._make_sites(n_systems - n_corp)
        self._make_people_and_teams()

    # ------------------------------------------------------------------ ids

    def _hex32(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def _uuid(self) -> str:
        h = f"{self._rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # ------------------------------------------------------------------ sites

    def _make_sites(self, n_site_systems: int) -> list[Site]:
        n_sites = max(2, round(n_site_systems / SYSTEMS_PER_SITE)) if n_site_systems else 2
        taken_short: set[str] = {"COR"}
        used_labels: set[str] = set()
        sites: list[Site] = []
        us_i = de_i = 0
        for i in range(n_sites):
            german = i % 3 == 1
            if german:
                city, short, region = DE_CITIES[de_i % len(DE_CITIES)]
                tz = "Europe/Berlin"
                de_i += 1
            else:
                city, short, region, tz = US_CITIES[us_i % len(US_CITIES)]
                us_i += 1
            label = city if city not in used_labels else f"{city} {i + 1}"
            used_labels.add(label)
            short = short if short and short not in taken_short else self._short_code(city, taken_short)
            taken_short.add(short)
            plant_no = i + 1
            name = f"Werk {label}" if german else f"Plant {plant_no} {label}"
            count = n_site_systems // n_sites + (1 if i < n_site_systems % n_sites else 0)
            country = "DE" if german else "US"
            sites.append(Site(i, f"{country}-{short}", short, city, label, country, region, tz, plant_no, name, count))
        for site in sites:
            self._layout_lines(site)
        return sites

    def _short_code(self, city: str, taken: set[str]) -> str:
        letters = [c for c in _ascii(city).upper() if c.isalpha()]
        first, rest = letters[0], letters[1:]
        consonants = [c for c in rest if c not in "AEIOU"]
        for pool in (consonants, rest):
            for a in range(len(pool)):
                for b in range(a + 1, len(pool)):
                    code = first + pool[a] + pool[b]
                    if code not in taken:
                        return code
        while True:
            code = first + "".join(self._rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(2))
            if code not in taken:
                return code

    def _layout_lines(self, site: Site) -> None:
        rest = max(0, site.n_systems - len(SITE_SYSTEMS))
        n_lines = max(1, min(30, round(rest / 160)))
        fh_node = site.area("FH")[0]
        for k in range(1, n_lines + 1):
            kind = LINE_KINDS[self._rng.randrange(len(LINE_KINDS))]
            others = self._rng.sample(CELLS[1:], self._rng.randint(3, 6))
            cells = [CELLS[0]] + sorted(others, key=CELLS.index)
            site.lines.append(Line(k, kind, cells, f"{fh_node}-L{k}"))

    # ------------------------------------------------------------------ people

    def _person(self, country: str, title: str, department: str, site: Site | None, manager: Person | None) -> Person:
        rng = self._rng
        firsts, lasts = (DE_FIRST, DE_LAST) if country == "DE" else (US_FIRST, US_LAST)
        while True:
            first, last = rng.choice(firsts), rng.choice(lasts)
            display = f"{first} {last}"
            if display in self._display_taken:
                display = f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
            if display not in self._display_taken:
                break
        self._display_taken.add(display)
        local = _ascii(display).lower().replace(". ", ".").replace(" ", ".")
        email = f"{local}@{DOMAIN}"
        n = 2
        while email in self._email_taken:
            email = f"{local}{n}@{DOMAIN}"
            n += 1
        self._email_taken.add(email)
        self._employee_no += rng.randint(1, 9)
        if site is None:
            city, office = ("Columbus", "Columbus HQ") if country == "US" else ("Regensburg", "Werk Regensburg")
            tz = "America/New_York" if country == "US" else "Europe/Berlin"
        else:
            city, office, tz = site.city, site.name, site.tz
        person = Person(
            display, first, last, email, title, department, country, city, office, tz,
            f"{country}{self._employee_no}", self._hex32(), self._uuid(), manager,
        )  # fmt: skip
        self.people.append(person)
        return person

    def _make_people_and_teams(self) -> None:
        rng = self._rng
        n_sites = len(self.sites)
        g = self.global_people
        cio = self._person("US", "Chief Information Officer", "Corporate IT", None, None)
        ciso = self._person("US", "Chief Information Security Officer", "Information Security", None, cio)
        g["cio"], g["ciso"] = [cio], [ciso]
        g["sap"] = [self._person("US", "Director Enterprise Applications", "Corporate IT", None, cio)]
        infra = self._person("US", "Manager IT Infrastructure & Network", "Corporate IT", None, cio)
        g["infra"] = [infra]
        desk = self._person("US", "Service Desk Lead", "Corporate IT", None, infra)
        g["desk"] = [desk, self._person("US", "Change Manager (CAB Chair)", "Corporate IT", None, desk)]
        g["net"] = [
            self._person("DE" if i % 3 == 1 else "US", "Senior Network Engineer", "Corporate IT", None, infra)
            for i in range(1 + n_sites // 20)
        ]
        soc = self._person("US", "SOC Lead", "Information Security", None, ciso)
        g["soc"] = [soc] + [self._person("US", "SOC Analyst", "Information Security", None, soc) for _ in range(2)]
        otsec = self._person("US", "OT Security Lead", "Information Security", None, ciso)
        g["otsec"] = [otsec] + [
            self._person("DE" if i % 2 else "US", "OT Security Engineer", "Information Security", None, otsec)
            for i in range(1 + n_sites // 25)
        ]
        data = self._person("US", "Data Platform Owner", "Data & Analytics", None, cio)
        g["data"] = [data] + [self._person("DE", "Data Engineer", "Data & Analytics", None, data) for _ in range(2)]
        mfg = self._person("US", "Manager Manufacturing Systems", "Manufacturing IT", None, cio)
        g["mfg"] = [mfg] + [
            self._person("DE" if i % 2 else "US", "MES Administrator", "Manufacturing IT", None, mfg)
            for i in range(1 + n_sites // 25)
        ]
        for site in self.sites:
            c = site.country
            de = site.german
            pm = self._person(c, "Werkleiter" if de else "Plant Manager", site.name, site, None)
            lead = self._person(
                c, "Leiter Automatisierungstechnik" if de else "OT Engineering Manager",
                f"Technik {site.label}" if de else f"Engineering {site.label}", site, pm,
            )  # fmt: skip
            engineers = [
                self._person(
                    c, "Automatisierungsingenieur" if de else "Controls Engineer",
                    f"Technik {site.label}" if de else f"Engineering {site.label}", site, lead,
                )  # fmt: skip
                for _ in range(rng.randint(2, 3))
            ]
            shift = self._person(
                c, "Schichtleiter Produktion" if de else "Production Shift Lead",
                f"Produktion {site.label}" if de else f"Operations {site.label}", site, pm,
            )  # fmt: skip
            maint = self._person(
                c, "Leiter Instandhaltung" if de else "Maintenance Lead",
                f"Produktion {site.label}" if de else f"Operations {site.label}", site, pm,
            )  # fmt: skip
            # A few people have left but are still referenced as owners.
            if rng.random() < 0.08:
                lead.active = False
            for e in engineers:
                if rng.random() < 0.02:
                    e.active = False
            site.people = {"pm": [pm], "lead": [lead], "eng": engineers, "ops": [shift, maint]}
            site.ot_team = f"OT Engineering - {site.label}"
            site.ops_team = f"Produktion - Werk {site.label}" if de else f"Plant Operations - {site.label}"
        vendor_mgr = self._person("US", "Account Manager", "Brightline Controls LLC", None, None)
        vendor_eng = self._person("US", "Field Service Engineer", "Brightline Controls LLC", None, vendor_mgr)
        for p in (vendor_mgr, vendor_eng):
            p.guest = True
            p.email = p.email.replace(DOMAIN, "brightlinecontrols.example")

        members = {
            "IT Service Desk": g["desk"], "IT Infrastructure & Network": [infra, *g["net"]],
            "Enterprise Applications - SAP": g["sap"], "OT Security": g["otsec"], "Security Operations Center": g["soc"],
            "Data & Analytics Platform": g["data"], "Manufacturing Systems (MES/LIMS)": g["mfg"],
        }  # fmt: skip
        n = 0
        for name, kind, mail, desc in GLOBAL_TEAMS:
            n += 1
            ms = members[name]
            self.teams.append(Team(f"T{n:03d}", name, kind, "GLOBAL", ms[0], ms, f"{mail}@{DOMAIN}", desc, self._hex32()))
        for site in self.sites:
            p = site.people
            slug = _ascii(site.label).lower().replace(" ", "-")
            n += 1
            desc = (
                f"Automatisierungstechnik Werk {site.label}: SPS/HMI/SCADA" if site.german
                else f"Controls engineering Plant {site.plant_no}: PLC/HMI/SCADA/drives"
            )  # fmt: skip
            self.teams.append(Team(
                f"T{n:03d}", site.ot_team, "OT", site.code, p["lead"][0], [*p["lead"], *p["eng"]],
                f"ot-eng-{slug}@{DOMAIN}", desc, self._hex32(),
            ))  # fmt: skip
            n += 1
            desc = (
                f"Produktion und Instandhaltung Werk {site.label}" if site.german
                else f"Production, shift leads, asset owner Plant {site.plant_no}"
            )  # fmt: skip
            self.teams.append(Team(
                f"T{n:03d}", site.ops_team, "OT", site.code, p["pm"][0], [*p["pm"], *p["ops"]],
                f"ops-{slug}@{DOMAIN}", desc, self._hex32(),
            ))  # fmt: skip
        n += 1
        self.teams.append(Team(
            f"T{n:03d}", "Brightline Controls (Vendor)", "Vendor", self.sites[0].code, vendor_mgr,
            [vendor_mgr, vendor_eng], "support@brightlinecontrols.example",
            "System integrator / maintenance service provider (IEC 62443 service provider)", self._hex32(),
        ))  # fmt: skip

    # ------------------------------------------------------------------ small tables

    def site_rows(self) -> Iterator[list[str]]:
        for s in self.sites:
            hours = "Mo-Fr 06:00-22:00" if s.german else "Mon-Fri 06:00-22:00"
            channel = f"#ot-{s.short.lower()}-bereitschaft" if s.german else f"#ot-{s.short.lower()}-oncall"
            yield [s.code, s.name, s.code, s.country, s.region, s.tz, hours, channel, "de" if s.german else "en"]
        yield ["CORP", "Corporate HQ Columbus / Cloud", "ENT", "US", "Ohio", "America/New_York",
               "Mon-Fri 08:00-18:00", "#it-major-incident", "en"]  # fmt: skip

    def hierarchy_rows(self) -> Iterator[list[str]]:
        yield ["ENT", "", "enterprise", ORG, ORG, "", ""]
        for s in self.sites:
            yield [s.code, "ENT", "site", s.name, s.name, s.code, s.tz]
            for key in AREAS:
                node, en, local = s.area(key)
                yield [node, s.code, "area", en, local, s.code, s.tz]
                if key == "FH":
                    for line in s.lines:
                        kind_en, kind_de = line.kind
                        local_line = f"Linie {line.number} ({kind_de})" if s.german else f"Line {line.number} ({kind_en})"
                        yield [line.node_id, node, "production_line", f"Line {line.number} ({kind_en})",
                               local_line, s.code, s.tz]  # fmt: skip
                        for code, cen, cde, _ in line.cells:
                            local_cell = f"{cde} L{line.number}" if s.german else f"{cen} L{line.number}"
                            yield [f"{line.node_id}-{code}", line.node_id, "work_cell", f"{cen} L{line.number}",
                                   local_cell, s.code, s.tz]  # fmt: skip
                for area, code, uen, ude, level in UNITS.values():
                    if area == key:
                        yield [f"{node}-{code}", node, level, uen, ude if s.german else uen, s.code, s.tz]

    def zone_rows(self) -> Iterator[list[str]]:
        for s in self.sites:
            S, de = s.short, s.german
            for line in s.lines:
                k = line.number
                yield [f"{S}-Z1{k:02d}", s.code, f"Zelle Abfüllung L{k}" if de else f"Cell {k} - Line {k}", "0-2",
                       "2", "Plant Manager",
                       f"Linie {k} SPS/HMI/Antriebe" if de else f"Line {k} controllers, drives, HMIs"]  # fmt: skip
            yield [f"{S}-Z4", s.code, "Sirupraum Prozess" if de else "Syrup Room Process", "0-1", "2",
                   "Plant Manager", "Ansatz/Mischen" if de else "Batch mixing BPCS"]  # fmt: skip
            yield [f"{S}-Z5", s.code, "Sicherheit (F-SPS)" if de else "Safety (SIS)", "1", "3", "Plant Manager",
                   "Fehlersichere Steuerung Kälteanlage (NH3)" if de else "Ammonia refrigeration SIS; PSM-covered"]  # fmt: skip
            yield [f"{S}-Z6", s.code, "Energiezentrale" if de else "Utilities", "0-1", "1", "Plant Manager",
                   "CIP, Druckluft" if de else "CIP skid, compressed air"]  # fmt: skip
            yield [f"{S}-Z10", s.code, "Leitebene" if de else "Supervisory", "2", "2", "OT Engineering Lead",
                   "WinCC, Engineering, OT-Switching" if de else "SCADA, EWS, OT switching"]  # fmt: skip
            yield [f"{S}-Z20", s.code, "Betriebsebene" if de else "Site Operations", "3", "2",
                   "Manufacturing Systems Owner", "Historian, MES, LIMS, SAP PCo, edge, OT monitoring"]  # fmt: skip
            yield [f"{S}-Z30", s.code, "Industrial DMZ", "3.5", "3", "OT Security Lead", "IDMZ firewall, jump host"]
            yield [f"{S}-Z40", s.code, "Werks-IT" if de else "Plant IT", "4", "1", "IT Infrastructure & Network",
                   "Plant business IT"]  # fmt: skip
        yield ["CORP-Z50", "CORP", "Enterprise", "4-5", "1", "IT Infrastructure & Network", "Corporate DC / WAN"]
        yield ["CLOUD", "CORP", "Cloud", "cloud", "1", "Data Platform Owner", "Azure and SaaS services"]

    def team_rows(self) -> Iterator[list[str]]:
        for t in self.teams:
            yield [t.team_id, t.name, t.kind, t.site_code, t.manager.display,
                   "; ".join(p.display for p in t.members), t.email, t.description]  # fmt: skip

    def sn_user_rows(self) -> Iterator[list[str]]:
        for p in self.people:
            company = "Brightline Controls LLC" if p.guest else COMPANY[p.country]
            yield [p.sn_sys_id, p.email if p.guest else p.user_name, p.display, p.first, p.last, p.email, p.title,
                   p.department, p.manager.display if p.manager else "", "true" if p.active else "false", p.tz,
                   company, "" if p.guest else p.employee_id]  # fmt: skip

    def sn_group_rows(self) -> Iterator[list[str]]:
        for t in self.teams:
            yield [t.sys_id, t.name, t.manager.display, "", "" if t.kind == "Vendor" else "itil", t.email, "true",
                   t.description]  # fmt: skip

    def sn_grmember_rows(self) -> Iterator[list[str]]:
        for t in self.teams:
            for p in t.members:
                yield [self._hex32(), t.name, p.display]

    def _upn(self, p: Person) -> str:
        if p.guest:
            return f"{p.email.replace('@', '_')}#EXT#@aldermoor.onmicrosoft.example"
        return p.email

    def entra_rows(self) -> Iterator[list[str]]:
        for p in self.people:
            company = "Brightline Controls LLC" if p.guest else COMPANY[p.country]
            created = "2023-01-09T16:40:00Z" if p.guest else "2019-03-04T14:22:10Z"
            yield [p.aad_id, self._upn(p), p.display, p.first, p.last, p.email, p.title,
                   "" if p.guest else p.department, company, "" if p.guest else p.office, p.city, p.country,
                   p.country, "" if p.guest else p.employee_id, "Contractor" if p.guest else "Employee",
                   "Guest" if p.guest else "Member", "true" if p.active else "false", created,
                   self._upn(p.manager) if p.manager else ""]  # fmt: skip

    # ------------------------------------------------------------------ systems

    def _site_specs(self, site: Site) -> Iterator[tuple]:
        """Every system of a site as (kind, name, aliases, node, area, purdue, zone, crit, owner, host)."""
        S, de, L, p = site.short, site.german, site.label, site.plant_no
        cr, _, _ = site.area("CR")
        syr, _, _ = site.area("SYR")
        ut, _, _ = site.area("UT")
        z = f"{S}-Z"
        yield from _site_templates(S, de, L, p, cr, syr, ut, z)
        rng = self._rng
        rest = max(0, site.n_systems - len(SITE_SYSTEMS) - 3 * len(site.lines))
        cells = [(line, cell) for line in site.lines for cell in line.cells]
        for line in site.lines:
            k = line.number
            zone = f"{z}1{k:02d}"
            yield ("cellfw", f"OT-FW Zelle Abfüllung L{k} {L}" if de else f"OT Firewall Cell {k} {L}",
                   [f"FW-CELL{k}-{S}-01"], line.node_id, "FH", "2", zone, 0, "sec", f"fw-cell{k}-{S.lower()}-01")
            yield ("edge", f"Edge Gateway Line {k} {L}", [f"EDGE-{S}-L{k}-01"], line.node_id, "FH", "3",
                   f"{z}20", 2, "data", f"edge-{S.lower()}-l{k}-01")
            yield ("switch", f"SW-OT-{S}-L{k}-01", [f"Linie {k} OT-Switch" if de else f"Line {k} OT switch"],
                   line.node_id, "FH", "2", zone, 0, "it", f"sw-ot-{S.lower()}-l{k}-01")
        n_cells = len(cells)
        for j, (line, (code, cen, cde, code_de)) in enumerate(cells):
            quota = rest // n_cells + (1 if j < rest % n_cells else 0)
            k = line.number
            zone = f"{z}1{k:02d}"
            node = f"{line.node_id}-{code}"
            ccode = code_de if de else code
            counters: dict[str, int] = {}
            robot_cell = code in ("PAL", "CPK")
            for i in range(quota):
                kind = DEVICE_CYCLE[i % len(DEVICE_CYCLE)]
                if kind == "robot" and not robot_cell:
                    kind = "vfd"
                nn = counters[kind] = counters.get(kind, 0) + 1
                aliases: list[str] = []
                with_alias = rng.random() < 0.7
                if kind == "plc":
                    name = f"{'SPS' if de else 'PLC'}-{S}-{ccode}-L{k}-{nn:02d}"
                    if with_alias:
                        aliases.append(f"{cde} L{k} SPS" if de else f"Line {k} {cen.lower()} PLC")
                    crit = 0
                elif kind == "hmi":
                    name = f"HMI-{S}-{ccode}-L{k}-{nn:02d}"
                    if with_alias:
                        aliases.append(f"Bedienpanel {cde} L{k}" if de else f"Line {k} {cen.lower()} HMI")
                    crit = 1
                elif kind == "vfd":
                    name = f"{'FU' if de else 'VFD'}-{S}-{ccode}-L{k}-{nn:02d}"
                    if with_alias:
                        aliases.append(f"{cde} L{k} Antrieb {nn}" if de else f"{cen} L{k} drive {nn}")
                    crit = 1 + (nn % 2)
                elif kind == "sensor":
                    tag, en, ger = SENSOR_KINDS[nn % 4]
                    name = f"{tag}-{S}-{ccode}-L{k}-{100 + nn}"
                    if with_alias:
                        aliases.append(f"{cde} L{k} {ger}-Messumformer" if de else f"{cen} L{k} {en} transmitter")
                    crit = 2
                elif kind == "rio":
                    name = f"{'ET' if de else 'RIO'}-{S}-{ccode}-L{k}-{nn:02d}"
                    if with_alias:
                        aliases.append(f"{cde} L{k} Dezentrale Peripherie" if de else f"{cen} L{k} remote I/O")
                    crit = 2
                else:
                    name = f"RBT-{S}-{ccode}-L{k}-{nn:02d}"
                    if with_alias:
                        aliases.append(f"{cde} L{k} Roboter" if de else f"Line {k} {cen.lower()} robot")
                    crit = 2
                purdue = "1" if kind in ("plc", "rio") else "2" if kind == "hmi" else "0"
                yield (kind, name, aliases, node, "FH", purdue, zone, crit, "ot", "")

    def _corp_specs(self) -> Iterator[tuple]:
        for i in range(self.n_corp):
            base, alias, maker, model, owner = CORP_APPS[i % len(CORP_APPS)]
            round_ = i // len(CORP_APPS)
            if round_ == 0:
                name, aliases = f"{base} Production", [alias]
            else:
                env = CORP_ENVS[round_ % len(CORP_ENVS)]
                name, aliases = f"{base} {env} {round_ // len(CORP_ENVS) + 1}", [f"{alias} {env.lower()}"]
            region = CORP_REGIONS[i % len(CORP_REGIONS)]
            yield ("app", name, aliases, "", region, "cloud" if i % 3 else "5", "CLOUD" if i % 3 else "CORP-Z50",
                   i % 4, owner, (maker, model))

    def iter_systems(self) -> Iterator[GeneratedSystem]:
        """The CMDB row, OT sighting and ISA-95 node of every system, in file order."""
        rng = self._rng
        rand = rng.random
        randrange = rng.randrange
        getrandbits = rng.getrandbits
        hexmix = self._hexmix
        g = self.global_people
        ts0 = 1609459200  # 2021-01-01
        span = 1751241600 - ts0  # up to 2025-06-30
        gmtime, strftime = time.gmtime, time.strftime
        unmatched_ip = (172 << 24) | (16 << 16) | 1
        unmatched_mac = self.n_systems
        counter = 0
        ip_next = 10 << 24

        def bump(v: int) -> int:
            """The next host address, skipping .255 and .0."""
            v += 1
            return v + 2 if v & 255 == 255 else v

        def fmt_ip(v: int) -> str:
            return f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"

        def serial(fmt: str, c: int) -> str:
            v = ((c * 0x9E3779B1) ^ hexmix) & 0xFFFFFFFF
            if fmt == "hex8":
                return f"{v:08X}"
            if fmt == "simatic":
                return f"S C-{_b36(v % 1296, 2)}{v:010d}"
            if fmt == "simatic_hmi":
                return f"S V-{_b36(v % 1296, 2)}{v:010d}"
            if fmt == "sinamics":
                return f"XAV{v:010d}"
            if fmt == "fanuc":
                return f"F-R30-{v:010d}"
            if fmt == "kuka":
                return f"KR{v:010d}"
            if fmt == "eh":
                return f"R{v:010X}"
            if fmt == "cisco":
                return f"FOC{_b36(v, 7)}"
            if fmt == "scalance":
                return f"VPJ{v:010d}"
            if fmt == "fortinet":
                return f"FGR60FTK{v:010d}"
            if fmt == "paloalto":
                return f"0132{v:010d}"
            if fmt == "dell":
                return _b36(v, 7)
            if fmt == "ipc":
                return f"S VPR{v:010d}"
            if fmt == "hpe":
                return f"CZJ{_b36(v, 7)}"
            if fmt == "nozomi":
                return f"NG750R-{v:010d}"
            if fmt == "vmware":
                return f"VMware-42 {v >> 24:02x} {(v >> 16) & 255:02x} {(v >> 8) & 255:02x} {v & 255:02x}"
            return ""

        def owners(site: Site | None, key: str, c: int) -> tuple[str, str, str, str]:
            """(owned_by, managed_by, managed_by_group, support_group) display names."""
            if key == "ot" and site is not None:
                eng = site.people["eng"]
                return site.people["pm"][0].display, eng[c % len(eng)].display, site.ot_team, site.ot_team
            if key == "sec":
                sec = g["otsec"]
                return sec[0].display, sec[c % len(sec)].display, "OT Security", "IT Infrastructure & Network"
            if key == "it":
                net = g["net"]
                return g["infra"][0].display, net[c % len(net)].display, "IT Infrastructure & Network", \
                    "IT Infrastructure & Network"
            if key == "data":
                d = g["data"]
                return d[0].display, d[1 + c % (len(d) - 1)].display, "Data & Analytics Platform", \
                    "Data & Analytics Platform"
            if key == "sap":
                s = g["sap"][0].display
                return s, s, "Enterprise Applications - SAP", "Enterprise Applications - SAP"
            if key == "mfg":
                m = g["mfg"]
                return m[0].display, m[c % len(m)].display, "Manufacturing Systems (MES/LIMS)", \
                    "Manufacturing Systems (MES/LIMS)"
            if key == "siteops" and site is not None:
                m = g["mfg"]
                return site.people["pm"][0].display, m[c % len(m)].display, "Manufacturing Systems (MES/LIMS)", \
                    "Manufacturing Systems (MES/LIMS)"
            return g["infra"][0].display, g["net"][0].display, "IT Infrastructure & Network", \
                "IT Infrastructure & Network"

        blocks: list[tuple[Site | None, Iterator[tuple]]] = [(s, self._site_specs(s)) for s in self.sites]
        blocks.append((None, self._corp_specs()))
        for site, specs in blocks:
            if site is not None:
                want = site.n_systems
                company, country, code = COMPANY[site.country], site.country, site.code
                asset_prefix = f"{site.short}-"
                asset_no = 1000 + randrange(9000)
                appliance = f"nozomi-{site.short.lower()}-01"
                custom = json.dumps({"site": code})
                locations = {key: site.location(key) for key in AREAS}
                ip_next = ((ip_next + 255) & ~255) + 1  # each site starts a fresh /24
            else:
                want = self.n_corp
                company, country, code = COMPANY["US"], "US", "CORP"
            made = 0
            for spec in specs:
                if made >= want:
                    break
                made += 1
                kind, name, aliases, node, area, purdue, zone, crit, owner_key, host = spec
                c = counter
                counter += 1
                if kind == "app":
                    maker, model = host
                    own = owners(None, owner_key, c)
                    updated = strftime("%Y-%m-%d %H:%M:%S", gmtime(ts0 + randrange(span)))
                    cmdb = [self._hex32(), name, "; ".join(aliases), "Application", "CORP",
                            f"Azure - {area}" if purdue == "cloud" else "Columbus HQ - Data Center", purdue, zone,
                            maker, model, "", "", "" if purdue == "cloud" else fmt_ip(ip_next), "", company,
                            own[0], own[1], own[2], own[3], own[3], CRITICALITY[crit], "Installed", "Operational",
                            "ServiceNow", updated]  # fmt: skip
                    if purdue != "cloud":
                        ip_next = bump(ip_next)
                    ot = self._unmatched_ot(unmatched_ip, unmatched_mac, "nozomi-fdl-01", json.dumps({"site": "CORP"}))
                    unmatched_ip = bump(unmatched_ip)
                    unmatched_mac += 1
                    yield GeneratedSystem(cmdb, ot, "", False)
                    continue
                assert site is not None
                cat = CATALOGUE[kind]
                entry = cat.get(country) or cat["US"]
                maker, model, mac_vendor, product, fw, sfmt, oui, os_, ot_type, roles, protocols = entry
                ser = serial(sfmt, c)
                ip_v = ip_next
                ip_next = bump(ip_next)
                ip = fmt_ip(ip_v)
                mac = f"{oui}:{(c >> 16) & 255:02x}:{(c >> 8) & 255:02x}:{c & 255:02x}" if oui else ""
                if kind in ("mes", "lims", "pco"):
                    asset = ""
                else:
                    asset_no += 1
                    asset = f"{asset_prefix}{asset_no:06d}"
                own = owners(site, owner_key, c)
                if rand() < 0.005:  # no accountable owner at all
                    own = ("", "", "", own[3])
                retired = kind in ("vfd", "hmi", "sensor") and rand() < 0.01
                r = rand()
                source = "Import Set" if r < 0.03 else "ServiceNow"
                updated = strftime("%Y-%m-%d %H:%M:%S", gmtime(ts0 + randrange(span)))
                location = locations[area]
                cmdb = [f"{getrandbits(128):032x}", name, "; ".join(aliases), CLASS_NAME[kind], code, location, purdue, zone,
                        maker, model, ser, asset, ip, mac, company, own[0], own[1], own[2], own[3], own[3],
                        CRITICALITY[crit], "Retired" if retired else "Installed",
                        "Retired" if retired else "Operational", source, updated]  # fmt: skip
                if rand() < 0.96:
                    seen_ip = ip
                    if rand() < 0.01:  # readdressed since the CMDB was updated
                        seen_ip = fmt_ip(unmatched_ip)
                        unmatched_ip = bump(unmatched_ip)
                    ot_name = seen_ip if kind in OT_NAMED_BY_IP else host or name.lower()
                    level = "3" if purdue == "3.5" else "1" if purdue == "0" else purdue
                    ot_serial = "" if kind in ("hmi", "scada", "ews", "historian", "jump", "fileserver", "edge",
                                               "mes", "lims", "pco", "switch", "cellfw", "idmzfw", "nozomi") \
                        else ser.lower()  # fmt: skip
                    vlan = zone.rsplit("Z", 1)[-1]
                    u = f"{getrandbits(128):032x}"
                    ot = [f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}", ot_name, level, appliance, "span0",
                          seen_ip, mac, mac_vendor, maker if ot_type == "OT_device" else "", product, fw, ot_serial,
                          os_, os_ or fw, ot_type, roles, protocols, zone, vlan, custom]  # fmt: skip
                    yield GeneratedSystem(cmdb, ot, node, True)
                else:
                    ot = self._unmatched_ot(unmatched_ip, unmatched_mac, appliance, custom)
                    unmatched_ip = bump(unmatched_ip)
                    unmatched_mac += 1
                    yield GeneratedSystem(cmdb, ot, node, False)

    def _unmatched_ot(self, ip_v: int, mac_c: int, appliance: str, custom: str) -> list[str]:
        """An OT sighting of a device the CMDB does not know."""
        rng = self._rng
        ip = f"{ip_v >> 24}.{(ip_v >> 16) & 255}.{(ip_v >> 8) & 255}.{ip_v & 255}"
        mac_tail = f"{(mac_c >> 16) & 255:02x}:{(mac_c >> 8) & 255:02x}:{mac_c & 255:02x}"
        kind = rng.randrange(5)
        uid = self._uuid()
        if kind == 0:
            return [uid, ip, "2", appliance, "span0", ip, f"00:03:27:{mac_tail}", "HMS Industrial Networks AB",
                    "HMS Industrial Networks", "Ewon Cosy 131", "14.9s2", "", "", "14.9s2", "-", "other",
                    "https;openvpn;ethernetip", "", "", custom]  # fmt: skip
        if kind == 1:
            return [uid, ip, "1", appliance, "span0", ip, f"00:90:e8:{mac_tail}", "Moxa Technologies Co., Ltd.",
                    "Moxa", "NPort 5150", "3.9", "", "", "3.9", "OT_device", "other", "modbus;telnet", "", "",
                    custom]  # fmt: skip
        if kind == 2:
            host = f"desktop-{rng.getrandbits(28):07x}"
            return [uid, host, "3", appliance, "span0", ip, f"3c:52:82:{mac_tail}", "Hewlett Packard", "", "", "",
                    "", "Windows 11", "Windows 11", "computer", "other", "rdp;smb;https", "", "", custom]  # fmt: skip
        if kind == 3:
            return [uid, ip, "2", appliance, "span0", ip, f"ac:cc:8e:{mac_tail}", "Axis Communications AB",
                    "Axis Communications", "AXIS P1455-LE", "10.12.182", "", "", "10.12.182", "-", "other",
                    "rtsp;https", "", "", custom]  # fmt: skip
        host = f"raspberrypi-{rng.getrandbits(16):04x}"
        return [uid, host, "3", appliance, "span0", ip, f"dc:a6:32:{mac_tail}", "Raspberry Pi Trading Ltd", "", "",
                "", "", "Linux", "Linux", "computer", "other", "mqtt;ssh;http", "", "", custom]  # fmt: skip


SITE_SYSTEMS = [
    "scada", "ews", "ews", "switch", "historian", "mes", "lims", "pco", "nozomi", "idmzfw", "jump", "fileserver",
    "plc", "sensor", "sensor", "plc", "sis", "plc",
]  # fmt: skip


def _site_templates(S: str, de: bool, L: str, p: int, cr: str, syr: str, ut: str, z: str) -> list[tuple]:
    s = S.lower()
    werk = f"Werk {L}"
    t = [
        ("scada", f"SCADA-{S}-01", [f"WinCC Leitsystem {werk}" if de else f"Ignition Gateway Plant {p}"], cr, "CR",
         "2", f"{z}10", 0, "ot", f"scada-{s}-01"),
        ("ews", f"EWS-{S}-01", ["TIA-Portal Engineering-PC" if de else "Studio 5000 engineering workstation"], cr,
         "CR", "2", f"{z}10", 1, "ot", f"ews-{s}-01"),
        ("ews", f"EWS-{S}-02", ["TIA-Portal Engineering-PC 2" if de else "Studio 5000 engineering workstation 2"],
         cr, "CR", "2", f"{z}10", 1, "ot", f"ews-{s}-02"),
        ("switch", f"SW-OT-{S}-FH-01", ["Abfüllhalle OT-Switch" if de else "Filling hall OT distribution switch"],
         cr, "CR", "2", f"{z}10", 0, "it", f"sw-ot-{s}-fh-01"),
        ("historian", f"Historian (AVEVA PI) Plant {p}", [f"PIHIST-{S}-01"], cr, "CR", "3", f"{z}20", 1, "mfg",
         f"pihist-{s}-01"),
        ("mes", f"MES {werk}" if de else f"MES Plant {p} {L}", [f"MES-{S}-APP01"], cr, "CR", "3", f"{z}20", 0,
         "siteops", f"mes-{s}-app01"),
        ("lims", f"LIMS {werk}" if de else f"LIMS Plant {p}", [f"LabWare LIMS {L}"], cr, "CR", "3", f"{z}20", 1,
         "mfg", f"lims-{s}-01"),
        ("pco", f"SAP PCo {werk}" if de else f"SAP PCo Plant {p}", [f"SAP Plant Connectivity {L}"], cr, "CR", "3",
         f"{z}20", 1, "sap", f"sappco-{s}-01"),
        ("nozomi", f"Nozomi Guardian {L}", [f"nozomi-{s}-01"], cr, "CR", "3", f"{z}20", 1, "sec", f"nozomi-{s}-01"),
        ("idmzfw", f"FW-IDMZ-{S}-01", [f"IDMZ-Firewall {werk}" if de else f"IDMZ firewall Plant {p}"], cr, "CR",
         "3.5", f"{z}30", 0, "it", f"fw-idmz-{s}-01"),
        ("jump", f"JMP-IDMZ-{S}-01", [f"Fernwartungs-Jumphost {werk}" if de else f"Remote access jump host Plant {p}"],
         cr, "CR", "3.5", f"{z}30", 0, "it", f"jmp-idmz-{s}-01"),
        ("fileserver", f"FS-{S}-01", [f"Werks-IT Fileserver {L}" if de else f"Plant IT file server {L}"], cr, "CR",
         "4", f"{z}40", 3, "it", f"fs-{s}-01"),
        ("plc", f"SPS-{S}-SIR-01" if de else f"PLC-{S}-MIX-01", ["Sirupraum Ansatz-SPS" if de else
         "Syrup room batch PLC"], f"{syr}-MIX", "SYR", "1", f"{z}4", 0, "ot", ""),
        ("sensor", f"FT-{S}-MIX-101", ["Sirupraum Durchfluss-Messumformer" if de else "Syrup flow transmitter"],
         f"{syr}-MIX", "SYR", "0", f"{z}4", 2, "ot", ""),
        ("sensor", f"TT-{S}-MIX-102", ["Sirupraum Temperatur-Messumformer" if de else "Syrup temperature transmitter"],
         f"{syr}-MIX", "SYR", "0", f"{z}4", 2, "ot", ""),
        ("plc", f"SPS-{S}-CIP-01" if de else f"PLC-{S}-CIP-01", ["CIP-Anlage SPS" if de else "CIP skid PLC"],
         f"{ut}-CIP", "UT", "1", f"{z}6", 1, "ot", ""),
        ("sis", f"F-SPS-{S}-KAE-01" if de else f"SIS-{S}-NH3-01",
         ["Kälteanlage Sicherheitssteuerung (F-CPU)" if de else "Ammonia refrigeration safety controller (GuardLogix)"],
         f"{ut}-NH3", "UT", "1", f"{z}5", 0, "ot", ""),
        ("plc", f"SPS-{S}-DLU-01" if de else f"PLC-{S}-AIR-01", ["Drucklufterzeugung SPS" if de else
         "Compressed air controller"], f"{ut}-AIR", "UT", "1", f"{z}6", 2, "ot", ""),
    ]  # fmt: skip
    assert [x[0] for x in t] == SITE_SYSTEMS
    return t


# --------------------------------------------------------------------------- files


def _writer(path: Path):  # type: ignore[no-untyped-def]
    fh = path.open("w", newline="", encoding="utf-8")
    return fh, csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")


# The zone of the (imagined) user who made the CMDB's display-value export.
EXPORT_TIMEZONE = "America/New_York"


def generate_plant(out_dir: Path, n_systems: int, *, seed: int = 7) -> Path:
    """Write a synthetic organisation with ``n_systems`` systems to ``out_dir``; return ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plant = Plant(n_systems, seed)
    small = [
        ("sites.csv", SITES_HEADER, plant.site_rows),
        ("isa95_hierarchy.csv", HIERARCHY_HEADER, plant.hierarchy_rows),
        ("zones.csv", ZONES_HEADER, plant.zone_rows),
        ("teams.csv", TEAMS_HEADER, plant.team_rows),
        ("servicenow_sys_user.csv", SN_USER_HEADER, plant.sn_user_rows),
        ("servicenow_sys_user_group.csv", SN_GROUP_HEADER, plant.sn_group_rows),
        ("servicenow_sys_user_grmember.csv", SN_GRMEMBER_HEADER, plant.sn_grmember_rows),
        ("entra_users.csv", ENTRA_HEADER, plant.entra_rows),
    ]
    for filename, header, rows in small:
        fh, w = _writer(out_dir / filename)
        with fh:
            w.writerow(header)
            w.writerows(rows())
    # The sites span several time zones, so the folder says which one the CMDB export was made in.
    (out_dir / "govbot-import.toml").write_text(f'export_timezone = "{EXPORT_TIMEZONE}"\n', encoding="utf-8")
    cmdb_fh, cmdb_w = _writer(out_dir / "cmdb_ci.csv")
    ot_fh, ot_w = _writer(out_dir / "ot_inventory_nozomi.csv")
    with cmdb_fh, ot_fh:
        cmdb_w.writerow(CMDB_HEADER)
        ot_w.writerow(OT_HEADER)
        cmdb_row, ot_row = cmdb_w.writerow, ot_w.writerow
        for system in plant.iter_systems():
            cmdb_row(system.cmdb)
            ot_row(system.ot)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--systems", type=int, default=10_000, help="number of CMDB rows (default 10000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    generate_plant(args.out_dir, args.systems, seed=args.seed)
    print(f"wrote {args.systems} systems to {args.out_dir} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
