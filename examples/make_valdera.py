"""Writes examples/valdera: a second sample organisation, a fictional bakery-and-snacks company with plants in
Mexico and Poland and its head office in Spain, exported the way its plants export (see its README).

    python examples/make_valdera.py [OUT_DIR]

The output depends on nothing but this file: every identifier is derived from a name, so running it again
writes the same bytes (a test checks that the committed files are what this script writes).
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys
from pathlib import Path

DOMAIN = "valdera.example"
OUT = Path(__file__).resolve().parent / "valdera"


def sys_id(*parts: str) -> str:
    return hashlib.md5("|".join(parts).encode()).hexdigest()  # noqa: S324 - an identifier, not security


def guid(*parts: str) -> str:
    h = sys_id("guid", *parts)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def mail(name: str) -> str:
    from anyascii import anyascii

    return anyascii(name).lower().replace(" ", ".") + "@" + DOMAIN


def write(out: Path, name: str, header: list[str], rows: list[list[str]], *, crlf: bool = False,
          bom: bool = False, quote_all: bool = True) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
                        lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    (out / name).write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


# --------------------------------------------------------------------------- places

SITES = [
    # code, name, node, country, region, timezone, hours (as the plant writes them), channel, language
    ("MX-PUE", "Planta Puebla", "MX-PUE", "MX", "Puebla", "America/Mexico_City",
     "Lun-Vie 07:00-15:00, 15:00-23:00; Sáb 07:00-13:00", "#ot-pue-guardia", "es-MX"),
    ("PL-LDZ", "Zakład Łódź", "PL-LDZ", "PL", "Łódzkie", "Europe/Warsaw",
     "Pn-Pt 06:00-14:00, 14:00-22:00, 22:00-06:00", "#ot-ldz-dyzur", ""),
    ("ES-MAD", "Oficinas centrales Madrid", "ENT", "ES", "MD", "Europe/Madrid",
     "lun.-vie. 9:00-18:00", "#it-guardia", "es"),
]

HIERARCHY = [
    # node_id, parent, level, name, local_name, site
    ("ENT", "", "enterprise", "Valdera Foods", "Valdera Foods", ""),
    ("MX-PUE", "ENT", "site", "Puebla Plant", "Planta Puebla", "MX-PUE"),
    ("PUE-HOR", "MX-PUE", "area", "Baking", "Horneado", "MX-PUE"),
    ("PUE-HOR-L1", "PUE-HOR", "production_line", "Line 1", "Línea 1", "MX-PUE"),
    ("PUE-HOR-L2", "PUE-HOR", "production_line", "Line 2", "Línea 2", "MX-PUE"),
    ("PUE-EMP", "MX-PUE", "area", "Packaging", "Empaque", "MX-PUE"),
    ("PUE-SRV", "MX-PUE", "area", "Utilities", "Servicios", "MX-PUE"),
    ("PUE-CTL", "MX-PUE", "area", "Control Room", "Cuarto de control", "MX-PUE"),
    ("PL-LDZ", "ENT", "site", "Lodz Plant", "Zakład Łódź", "PL-LDZ"),
    ("LDZ-PIE", "PL-LDZ", "area", "Bakery", "Piekarnia", "PL-LDZ"),
    ("LDZ-PIE-L1", "LDZ-PIE", "production_line", "Line 1", "Linia 1", "PL-LDZ"),
    ("LDZ-PIE-L3", "LDZ-PIE", "production_line", "Line 3", "Linia 3", "PL-LDZ"),
    ("LDZ-PAK", "PL-LDZ", "area", "Packaging", "Pakowanie", "PL-LDZ"),
    ("LDZ-MED", "PL-LDZ", "area", "Utilities", "Media", "PL-LDZ"),
    ("LDZ-CTL", "PL-LDZ", "area", "Control Room", "Sterownia", "PL-LDZ"),
]

ZONES = [
    ("PUE-Z1", "MX-PUE", "Celda Horneado", "0-2", "2", "Plant Manager", "Hornos y mezcladoras, líneas 1 y 2"),
    ("PUE-Z2", "MX-PUE", "Celda Empaque", "0-2", "2", "Plant Manager", "Empacadoras y paletizador"),
    ("PUE-Z9", "MX-PUE", "Operaciones de planta", "3", "2", "OT Engineering Lead", "SCADA, historiador, MES"),
    ("LDZ-Z1", "PL-LDZ", "Strefa Piekarnia", "0-2", "2", "Plant Manager", "Piece i mieszalniki, linie 1 i 3"),
    ("LDZ-Z2", "PL-LDZ", "Strefa Pakowanie", "0-2", "2", "Plant Manager", "Pakowarki"),
    ("LDZ-Z9", "PL-LDZ", "Operacje zakładu", "3", "2", "OT Engineering Lead", "SCADA, historian"),
]

SHUTDOWNS = [
    ("MX-PUE", "2025-12-24", "2026-01-01", "Paro de fin de año"),
    ("MX-PUE", "2025-12-12", "", "Día de la Virgen de Guadalupe (paro de planta)"),
    ("PL-LDZ", "2025-08-04", "2025-08-08", "Postój wakacyjny"),
]

# --------------------------------------------------------------------------- people

PEOPLE = [
    # name, title, department, site, manager, active, left_on, preferredLanguage
    ("Carmen Llorente", "Chief Information Officer", "IT corporativo", "ES-MAD", "", True, "", "es-ES"),
    ("Íñigo Etxeberria", "OT Security Lead", "Seguridad", "ES-MAD", "Carmen Llorente", True, "", "es-ES"),
    ("Beatriz Soler", "Change Manager", "IT corporativo", "ES-MAD", "Carmen Llorente", True, "", "es-ES"),
    ("Jorge Calderón", "Plant Manager", "Dirección de planta", "MX-PUE", "Carmen Llorente", True, "", "es-MX"),
    ("Sofía Peña", "OT Engineering Lead", "Ingeniería OT", "MX-PUE", "Jorge Calderón", True, "", "es-MX"),
    ("Ramón Núñez", "OT Engineering Lead", "Ingeniería OT", "MX-PUE", "Jorge Calderón", False, "2025-01-31", "es-MX"),
    ("María José Ramírez", "Controls Engineer", "Ingeniería OT", "MX-PUE", "Sofía Peña", True, "", "es-MX"),
    ("Héctor Domínguez", "Controls Engineer", "Ingeniería OT", "MX-PUE", "Sofía Peña", True, "", ""),
    ("Grzegorz Szymański", "Plant Manager", "Dyrekcja zakładu", "PL-LDZ", "Carmen Llorente", True, "", "pl-PL"),
    ("Łucja Woźniak", "OT Engineering Lead", "Inżynieria OT", "PL-LDZ", "Grzegorz Szymański", True, "", "pl-PL"),
    ("Michał Wójcik", "Controls Engineer", "Inżynieria OT", "PL-LDZ", "Łucja Woźniak", True, "", "pl-PL"),
    ("Agnieszka Dąbrowska", "Controls Engineer", "Inżynieria OT", "PL-LDZ", "Łucja Woźniak", True, "", ""),
    ("Paweł Zieliński", "Manufacturing Systems Owner", "Systemy produkcyjne", "PL-LDZ", "Grzegorz Szymański", True,
     "", "pl-PL"),
]

TEAMS = [
    # team_id, name, kind, site, manager, members, email, description
    ("V01", "OT Soporte Puebla", "OT", "MX-PUE", "Sofía Peña", ["Sofía Peña", "María José Ramírez", "Héctor Domínguez"],
     "ot-puebla", "Soporte OT de la planta de Puebla"),
    ("V02", "Utrzymanie ruchu OT Łódź", "OT", "PL-LDZ", "Łucja Woźniak",
     ["Łucja Woźniak", "Michał Wójcik", "Agnieszka Dąbrowska"], "ot-lodz", "Wsparcie OT zakładu w Łodzi"),
    ("V03", "IT Corporativo", "IT", "GLOBAL", "Carmen Llorente", ["Carmen Llorente", "Beatriz Soler"], "it",
     "Infraestructura, red y aplicaciones corporativas"),
    ("V04", "Seguridad OT", "Security", "GLOBAL", "Íñigo Etxeberria", ["Íñigo Etxeberria"], "seguridad-ot",
     "Seguridad OT del grupo"),
]

# --------------------------------------------------------------------------- systems

# name, alias, class, site, location, purdue, zone, manufacturer, model, serial, asset, ip, mac, owner, manager,
# group, support group, criticality, status
SYSTEMS = [
    ("PUE-PLC-OVN-L1", "Horno túnel L1 - autómata", "PLC", "MX-PUE", "Planta Puebla - Horneado", "1", "PUE-Z1",
     "Siemens AG", "SIMATIC S7-1500", "S C-M8K1001", "PUE-000101", "10.61.11.10", "28:63:36:61:11:10",
     "Sofía Peña", "María José Ramírez", "OT Soporte Puebla", "OT Soporte Puebla", "1", "Installed", "PUE-HOR-L1"),
    ("PUE-PLC-OVN-L2", "Horno túnel L2", "PLC", "MX-PUE", "Planta Puebla - Horneado", "1", "PUE-Z1",
     "Siemens AG", "SIMATIC S7-1500", "S C-M8K1002", "PUE-000102", "10.61.12.10", "28:63:36:61:12:10",
     "Ramón Núñez", "María José Ramírez", "OT Soporte Puebla", "OT Soporte Puebla", "1", "Installed", "PUE-HOR-L2"),
    ("PUE-HMI-OVN-L2", "Panel del horno L2", "HMI", "MX-PUE", "Planta Puebla - Horneado", "2", "PUE-Z1",
     "Siemens AG", "SIMATIC HMI TP1500", "S V-M8K2002", "PUE-000112", "10.61.12.50", "28:63:36:61:12:50",
     "Ramón Núñez", "Héctor Domínguez", "OT Soporte Puebla", "OT Soporte Puebla", "2", "Installed", "PUE-HOR-L2"),
    ("PUE-PLC-MIX-L1", "Amasadora L1", "PLC", "MX-PUE", "Planta Puebla - Horneado", "1", "PUE-Z1",
     "Rockwell Automation", "CompactLogix 5380", "9F11A001", "PUE-000121", "10.61.11.20", "00:1d:9c:61:11:20",
     "Sofía Peña", "Héctor Domínguez", "OT Soporte Puebla", "OT Soporte Puebla", "2", "Installed", "PUE-HOR-L1"),
    ("PUE-PLC-PKG-01", "Empacadora flow-pack", "PLC", "MX-PUE", "Planta Puebla - Empaque", "1", "PUE-Z2",
     "Rockwell Automation", "CompactLogix 5380", "9F11A010", "PUE-000201", "10.61.21.10", "00:1d:9c:61:21:10",
     "Sofía Peña", "María José Ramírez", "OT Soporte Puebla", "Soporte OT Puebla", "2", "Installed", ""),
    ("PUE-RBT-PAL-01", "Paletizador robot", "Industrial Robot", "MX-PUE", "Planta Puebla - Empaque", "0",
     "PUE-Z2", "FANUC", "M-410iC", "F9R41001", "PUE-000211", "10.61.21.40", "00:e0:e4:61:21:40", "Sofía Peña",
     "Héctor Domínguez", "OT Soporte Puebla", "OT Soporte Puebla", "3", "Installed", ""),
    ("PUE-CMP-01", "Compresor de aire", "PLC", "MX-PUE", "Planta Puebla - Servicios", "1", "PUE-Z1",
     "Atlas Copco", "Elektronikon MK5", "AC5501", "PUE-000301", "10.61.31.10", "00:0e:8c:61:31:10",
     "Jorge Calderón", "Héctor Domínguez", "OT Soporte Puebla", "OT Soporte Puebla", "3", "Installed", ""),
    ("SCADA-PUE-01", "SCADA Puebla", "SCADA Server", "MX-PUE", "Planta Puebla - Cuarto de control", "2",
     "PUE-Z9", "Inductive Automation", "Ignition 8.1", "DL7P001", "PUE-000401", "10.61.90.10",
     "00:50:56:61:90:10", "Sofía Peña", "María José Ramírez", "OT Soporte Puebla", "OT Soporte Puebla", "1",
     "Installed", ""),
    ("HIST-PUE-01", "Historiador Puebla", "Historian", "MX-PUE", "Planta Puebla - Cuarto de control", "3",
     "PUE-Z9", "AVEVA", "PI Server 2023", "DL7P002", "PUE-000402", "10.61.90.20", "00:50:56:61:90:20",
     "Sofía Peña", "María José Ramírez", "OT Soporte Puebla", "OT Soporte Puebla", "2", "Installed", ""),
    ("LDZ-STR-PIE-L1", "Sterownik pieca L1", "PLC", "PL-LDZ", "Zakład Łódź - Piekarnia", "1", "LDZ-Z1",
     "Siemens AG", "SIMATIC S7-1500", "S C-P7L3001", "LDZ-000101", "10.62.11.10", "28:63:36:62:11:10",
     "Łucja Woźniak", "Michał Wójcik", "Utrzymanie ruchu OT Łódź", "Utrzymanie ruchu OT Łódź", "1", "Installed",
     "LDZ-PIE-L1"),
    ("LDZ-STR-PIE-L3", "Sterownik pieca L3", "PLC", "PL-LDZ", "Zakład Łódź - Piekarnia", "1", "LDZ-Z1",
     "Siemens AG", "SIMATIC S7-1500", "S C-P7L3003", "LDZ-000103", "10.62.13.10", "28:63:36:62:13:10",
     "Lucja Wozniak", "Agnieszka Dąbrowska", "Utrzymanie ruchu OT Łódź", "Utrzymanie ruchu OT Łódź", "1",
     "Installed", "LDZ-PIE-L3"),
    ("LDZ-HMI-PIE-L3", "Panel operatorski pieca L3", "HMI", "PL-LDZ", "Zakład Łódź - Piekarnia", "2", "LDZ-Z1",
     "Siemens AG", "SIMATIC HMI TP1200", "S V-P7L4003", "LDZ-000113", "10.62.13.50", "28:63:36:62:13:50",
     "Łucja Woźniak", "Michał Wójcik", "Utrzymanie ruchu OT Łódź", "Utrzymanie ruchu OT Łódź", "2",
     "Installed", "LDZ-PIE-L3"),
    ("LDZ-STR-MIE-L1", "Mieszalnik L1", "PLC", "PL-LDZ", "Zakład Łódź - Piekarnia", "1", "LDZ-Z1",
     "Beckhoff", "CX5140", "BK514001", "LDZ-000121", "10.62.11.20", "00:01:05:62:11:20", "Łucja Woźniak",
     "Agnieszka Dąbrowska", "Utrzymanie ruchu OT Łódź", "Utrzymanie ruchu OT Łódź", "2", "Installed",
     "LDZ-PIE-L1"),
    ("LDZ-STR-PAK-01", "Pakowarka kartonów", "PLC", "PL-LDZ", "Zakład Łódź - Pakowanie", "1", "LDZ-Z2",
     "Beckhoff", "CX5140", "BK514010", "LDZ-000201", "10.62.21.10", "00:01:05:62:21:10", "Michał Wójcik",
     "Agnieszka Dąbrowska", "Utrzymanie ruchu OT Łódź", "Utrzymanie ruchu OT Łódź", "2", "Installed", ""),
    ("LDZ-GW-CHL-01", "Brama chłodni", "OT Gateway", "PL-LDZ", "Zakład Łódź - Media", "2", "LDZ-Z1",
     "HMS", "Ewon Flexy 205", "EW2050001", "LDZ-000301", "10.62.31.5", "00:03:27:62:31:05", "", "",
     "", "Utrzymanie ruchu OT Łódź", "3", "Installed", ""),
    ("SCADA-LDZ-01", "SCADA Łódź", "SCADA Server", "PL-LDZ", "Zakład Łódź - Sterownia", "2", "LDZ-Z9",
     "Siemens AG", "WinCC OA 3.19", "DL7L001", "LDZ-000401", "10.62.90.10", "00:50:56:62:90:10", "Łucja Woźniak",
     "Michał Wójcik", "Utrzymanie ruchu OT Łódź", "Utrzymanie ruchu OT Łódź", "1", "Installed", ""),
    ("HIST-LDZ-01", "Historian Łódź", "Historian", "PL-LDZ", "Zakład Łódź - Sterownia", "3", "LDZ-Z9",
     "AVEVA", "PI Server 2023", "DL7L002", "LDZ-000402", "10.62.90.20", "00:50:56:62:90:20", "Paweł Zieliński",
     "Michał Wójcik", "Utrzymanie ruchu OT Łódź", "Utrzymanie ruchu OT Łódź", "2", "Installed", ""),
    ("MES-VALDERA", "MES corporativo", "Application", "ES-MAD", "Oficinas centrales Madrid", "4", "",
     "SAP SE", "SAP Digital Manufacturing", "", "MAD-000501", "10.60.10.30", "", "Paweł Zieliński",
     "Beatriz Soler", "IT Corporativo", "IT Corporativo", "2", "Installed", ""),
    ("FW-MAD-01", "Cortafuegos central", "IP Firewall", "ES-MAD", "Oficinas centrales Madrid", "3.5", "",
     "Fortinet", "FortiGate 200F", "FG200F001", "MAD-000601", "10.60.0.1", "00:09:0f:60:00:01", "Íñigo Etxeberria",
     "Carmen Llorente", "IT Corporativo", "Seguridad OT", "1", "Installed", ""),
]

RELATIONS = [
    ("PUE-HMI-OVN-L2", "Depends on::Used by", "PUE-PLC-OVN-L2"),
    ("SCADA-PUE-01", "Depends on::Used by", "PUE-PLC-OVN-L1"),
    ("SCADA-PUE-01", "Depends on::Used by", "PUE-PLC-OVN-L2"),
    ("SCADA-PUE-01", "Depends on::Used by", "PUE-PLC-MIX-L1"),
    ("HIST-PUE-01", "Depends on::Used by", "SCADA-PUE-01"),
    ("LDZ-HMI-PIE-L3", "Depends on::Used by", "LDZ-STR-PIE-L3"),
    ("SCADA-LDZ-01", "Depends on::Used by", "LDZ-STR-PIE-L1"),
    ("SCADA-LDZ-01", "Depends on::Used by", "LDZ-STR-PIE-L3"),
    ("HIST-LDZ-01", "Depends on::Used by", "SCADA-LDZ-01"),
    ("MES-VALDERA", "Depends on::Used by", "HIST-PUE-01"),
    ("MES-VALDERA", "Depends on::Used by", "HIST-LDZ-01"),
]

ROLES = ["Plant Manager", "OT Engineering Lead", "Controls Engineer", "OT Security Lead", "Change Manager",
         "Manufacturing Systems Owner", "CIO"]
RACI = [
    ("ACT-01", "Change enablement", "Change approval - OT Level 0-2 (controllers, drives, HMIs, SCADA)", "per site",
     ["C", "A", "R", "C", "I", "", ""], "Normal change; MOC where required"),
    ("ACT-02", "Change enablement", "Change approval - Level 3 site systems (MES, historian, SCADA servers)",
     "per site", ["C", "C", "", "C", "C", "A/R", ""], ""),
    ("ACT-03", "Change enablement", "Change approval - IT / enterprise (Level 4-5, cloud)", "global",
     ["", "", "", "C", "A/R", "C", "I"], ""),
    ("ACT-04", "Change enablement", "Emergency change - OT", "per site", ["A", "R", "R", "C", "I", "", ""], ""),
    ("ACT-05", "Firmware", "Firmware update - PLC / HMI / drives", "per site", ["I", "A", "R", "C", "I", "", ""], ""),
    ("ACT-06", "Data", "Data stewardship - process data historian", "per site", ["I", "C", "", "", "", "A", "R"],
     ""),
    ("ACT-07", "Security", "Patching - OT servers and workstations", "per site", ["I", "R", "", "A", "I", "", ""],
     ""),
    ("ACT-09", "Asset management", "Asset inventory reconciliation", "per site", ["I", "R", "R", "C", "", "", ""],
     "No Accountable named yet"),
]
ASSIGNMENTS = [
    ("Plant Manager", "MX-PUE", "person", "Jorge Calderón", "2018-02-01", ""),
    ("Plant Manager", "PL-LDZ", "person", "Grzegorz Szymański", "2019-06-01", ""),
    ("OT Engineering Lead", "MX-PUE", "person", "Sofía Peña", "2025-02-01", "acting since R. Núñez left 2025-01-31"),
    ("OT Engineering Lead", "PL-LDZ", "person", "Łucja Woźniak", "2020-09-01", ""),
    ("Controls Engineer", "MX-PUE", "team", "OT Soporte Puebla", "2018-02-01", ""),
    ("Controls Engineer", "PL-LDZ", "team", "Utrzymanie ruchu OT Łódź", "2019-06-01", ""),
    ("OT Security Lead", "GLOBAL", "person", "Íñigo Etxeberria", "2021-01-01", ""),
    ("Change Manager", "GLOBAL", "person", "Beatriz Soler", "2021-01-01", ""),
    ("Manufacturing Systems Owner", "GLOBAL", "person", "Paweł Zieliński", "2022-03-01", ""),
    ("CIO", "GLOBAL", "person", "Carmen Llorente", "2017-01-01", ""),
]
SLA = [(c, p) for c in range(1, 5) for p in range(1, 5)]
CHAINS = [
    ("ESC-OT-PUE", "OT Soporte Puebla", "MX-PUE", [("team", "OT Soporte Puebla", "slack_channel:#ot-pue-guardia", "24x7"),
                                                   ("person", "Ramón Núñez", "slack_dm; phone", "24x7"),
                                                   ("role", "Plant Manager@MX-PUE", "phone", "24x7")]),
    ("ESC-OT-LDZ", "Utrzymanie ruchu OT Łódź", "PL-LDZ", [("team", "Utrzymanie ruchu OT Łódź", "slack_channel:#ot-ldz-dyzur", "24x7"),
                                                         ("role", "OT Engineering Lead@PL-LDZ", "slack_dm; phone", "24x7"),
                                                         ("role", "Plant Manager@PL-LDZ", "phone", "24x7")]),
    ("ESC-IT", "IT Corporativo; Seguridad OT", "*", [("team", "IT Corporativo", "slack_channel:#it-guardia", "business"),
                                                     ("role", "CIO@GLOBAL", "email", "business")]),
]
CHANGES = [
    # number, title, state, ci, group, assigned, requested, start, end, created
    ("CHG0040101", "Actualización de firmware del horno L2", "Authorize", "PUE-PLC-OVN-L2", "OT Soporte Puebla",
     "María José Ramírez", "María José Ramírez", "2025-06-14 06:00:00", "2025-06-14 09:00:00", "2025-06-02 10:00:00"),
    ("CHG0040102", "Wymiana panelu operatorskiego pieca L3", "Scheduled", "LDZ-HMI-PIE-L3",
     "Utrzymanie ruchu OT Łódź", "Michał Wójcik", "Michał Wójcik", "2025-06-21 22:00:00", "2025-06-22 02:00:00",
     "2025-06-03 08:30:00"),
]


def generate(out: Path = OUT) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    # sites: the Spanish head office's spreadsheet: BOM, CRLF, its own column order and an extra column.
    write(out, "sites.csv",
          ["Site Code", "Name", "Timezone", "Country", "Region", "Business Hours Local", "Language",
           "Oncall Channel", "ISA95 Node ID", "Plant Manager Phone"],
          [[c, n, tz, co, r, h, lang, ch, node, "+00 000 000 000"] for c, n, node, co, r, tz, h, ch, lang in SITES],
          crlf=True, bom=True, quote_all=False)
    write(out, "plant_shutdowns.csv", ["site_code", "first_day", "last_day", "name"], [list(s) for s in SHUTDOWNS])
    write(out, "isa95_hierarchy.csv", ["node_id", "parent_node_id", "isa95_level", "name", "local_name", "site_code"],
          [list(h) for h in HIERARCHY])
    write(out, "zones.csv", ["zone_id", "site_code", "zone_name", "purdue_level", "sl_target", "zone_owner_role",
                             "description"], [list(z) for z in ZONES])
    write(out, "teams.csv", ["team_id", "name", "kind", "site_code", "manager", "members", "email", "description"],
          [[i, n, k, s, m, "; ".join(mem), f"{e}@{DOMAIN}", d] for i, n, k, s, m, mem, e, d in TEAMS])
    # Entra ID export of a Polish admin: CRLF, with preferredLanguage, an extra column and no BOM.
    entra_rows = []
    for name, title, dept, site, manager, active, _left, lang in PEOPLE:
        given, _, surname = name.rpartition(" ")
        entra_rows.append([guid(name), mail(name), name, given, surname, mail(name), title, dept, "Valdera Foods",
                           site, "MX" if site == "MX-PUE" else "PL" if site == "PL-LDZ" else "ES", lang,
                           "true" if active else "false", mail(manager) if manager else "", "cloud"])
    write(out, "entra_users.csv",
          ["id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "jobTitle", "department",
           "companyName", "officeLocation", "usageLocation", "preferredLanguage", "accountEnabled",
           "manager_userPrincipalName", "onPremisesSyncEnabled"], entra_rows, crlf=True)
    write(out, "servicenow_sys_user.csv",
          ["sys_id", "user_name", "name", "email", "title", "manager", "active", "time_zone"],
          [[sys_id("user", p[0]), mail(p[0]).split("@")[0], p[0], mail(p[0]), p[1], p[4], "true" if p[5] else "false",
            {"MX-PUE": "America/Mexico_City", "PL-LDZ": "Europe/Warsaw"}.get(p[3], "Europe/Madrid")] for p in PEOPLE])
    # CMDB display-value export made at the head office in Madrid: BOM, CRLF, another column order, extra
    # columns, and the exporting user's zone named in the header.
    cmdb_header = ["name", "sys_class_name", "sys_id", "u_site_code", "location", "owned_by", "managed_by",
                   "managed_by_group", "support_group", "assignment_group", "u_business_criticality", "u_alias",
                   "u_purdue_level", "u_security_zone", "manufacturer", "model_id", "serial_number", "asset_tag",
                   "ip_address", "mac_address", "install_status", "operational_status", "u_cost_center",
                   "sys_updated_on (Europe/Madrid)"]
    crit = {"1": "1 - most critical", "2": "2 - somewhat critical", "3": "3 - less critical", "4": "4 - not critical"}
    rows = []
    for (name, alias, cls, site, loc, purdue, zone, manu, model, serial, asset, ip, mac, owner, manager, group,
         support, c, status, _node) in SYSTEMS:
        rows.append([name, cls, sys_id("ci", name), site, loc, owner, manager, group, support, support, crit[c],
                     alias, purdue, zone, manu, model, serial, asset, ip, mac, status, "Operational",
                     f"CC-{site}", "2025-05-30 18:45:00"])
    write(out, "cmdb_ci.csv", cmdb_header, rows, crlf=True, bom=True)
    write(out, "cmdb_rel_ci.csv", ["sys_id", "parent", "type", "child"],
          [[sys_id("rel", p, c), p, t, c] for p, t, c in RELATIONS])
    write(out, "raci_matrix.csv", ["Activity ID", "Process area", "Activity", "Scope", *ROLES, "Notes"],
          [[a, pa, n, sc, *cells, note] for a, pa, n, sc, cells, note in RACI])
    write(out, "role_assignments.csv", ["role", "scope", "holder_type", "holder", "valid_from", "note"],
          [list(r) for r in ASSIGNMENTS])
    targets = {1: (15, 4), 2: (30, 8), 3: (60, 24), 4: (240, 72)}
    write(out, "sla_policies.csv", ["policy_id", "business_criticality", "priority", "response_target_minutes",
                                    "resolution_target_hours", "schedule", "breach_notify_at_pct"],
          [[f"SLA-C{c}-P{p}", crit[str(c)], str(p), str(targets[max(c, p)][0]), str(targets[max(c, p)][1]),
            "24x7" if c == 1 else "site business hours", "50;75;100"] for c, p in SLA])
    chain_rows = []
    for chain_id, groups, site, levels in CHAINS:
        for i, (kind, target, channel, hours) in enumerate(levels, start=1):
            chain_rows.append([chain_id, groups, site, str(i), str((i - 1) * 30), kind, target, channel, hours])
    write(out, "escalation_chains.csv", ["chain_id", "applies_to_support_group", "site_code", "level",
                                         "after_minutes", "target_type", "target", "channel", "hours"], chain_rows)
    # Changes exported by a user in Warsaw; the file does not say so (import with --export-timezone Europe/Warsaw).
    write(out, "change_request.csv",
          ["sys_id", "number", "short_description", "type", "state", "risk", "cmdb_ci", "assignment_group",
           "assigned_to", "requested_by", "start_date", "end_date", "sys_created_on"],
          [[sys_id("chg", n), n, t, "Normal", s, "Moderate", ci, g, a, r, st, en, cr]
           for n, t, s, ci, g, a, r, st, en, cr in CHANGES], crlf=True)
    return out


if __name__ == "__main__":
    target = generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {target}")
