"""The file shapes ``govbot import`` understands, recognised by their header row.

A shape names the columns it needs and the ones it knows.  A file is the shape
whose needed columns it has, preferring the shape that explains most of its
columns.  Stages fix the order files are applied in, whatever order they were
given in: places, people, teams, systems, inventories, relations, governance,
changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from governance_store.importers import assets, changes, cmdb, governance, netbox, org, people, teams
from governance_store.importers.context import Run
from governance_store.importers.csvio import CsvFile, norm_column

Handler = Callable[[Run, CsvFile], None]


@dataclass(frozen=True)
class Shape:
    kind: str
    required: frozenset[str]
    optional: frozenset[str]
    handler: Handler
    # Every column beyond the fixed ones carries meaning (the RACI matrix's role columns).
    open_columns: bool = False
    # Decides the final kind (display or raw ServiceNow export) from the header and a sample.
    sniff: Callable[[CsvFile], str] | None = None


def _cols(text: str) -> frozenset[str]:
    return frozenset(norm_column(c) for c in text.split(",") if c.strip())


def _cmdb_kind(f: CsvFile) -> str:
    return "cmdb_ci_raw" if cmdb.sniff_servicenow(f.sample) == "raw" else "cmdb_ci"


def _variant_only(kind: str) -> Callable[[CsvFile], str]:
    def sniff(f: CsvFile) -> str:
        f.variant = cmdb.sniff_servicenow(f.sample)
        return kind

    return sniff


SHAPES: list[Shape] = [
    Shape("sites", _cols("site_code,name,timezone"),
          _cols("isa95_node_id,country,region,business_hours_local,business_hours,oncall_channel,language"),
          org.import_sites),
    Shape("site_shutdowns", _cols("site_code,first_day"), _cols("last_day,name,reason"), org.import_shutdowns),
    Shape("isa95_hierarchy", _cols("node_id,parent_node_id,isa95_level,name"),
          _cols("local_name,site_code,timezone"), org.import_hierarchy),
    Shape("zones", _cols("zone_id,zone_name"),
          _cols("site_code,purdue_level,sl_target,zone_owner_role,owner_role,description"), org.import_zones),
    Shape("conduits", _cols("conduit_id,from_zone,to_zone"),
          _cols("enforced_by_ci,enforced_by,allowed_traffic,description"), org.import_conduits),
    Shape("teams", _cols("team_id,name"),
          _cols("kind,site_code,manager,members,email,description,channel"), teams.import_teams),
    Shape("servicenow_sys_user", _cols("sys_id,user_name,email"),
          _cols("name,first_name,last_name,title,department,manager,active,time_zone,company,employee_number,"
                "phone,mobile_phone,location,sys_updated_on,sys_created_on,preferred_language"),
          people.import_sys_user, sniff=_variant_only("servicenow_sys_user")),
    Shape("servicenow_sys_user_group", _cols("sys_id,name,manager"),
          _cols("parent,type,email,active,description,sys_updated_on,sys_created_on"), teams.import_groups,
          sniff=_variant_only("servicenow_sys_user_group")),
    Shape("servicenow_sys_user_grmember", _cols("group,user"), _cols("sys_id,sys_updated_on,sys_created_on"),
          teams.import_group_members, sniff=_variant_only("servicenow_sys_user_grmember")),
    Shape("cmdb_ci", _cols("sys_id,name,sys_class_name"),
          _cols("u_alias,u_site_code,location,u_purdue_level,u_security_zone,manufacturer,model_id,serial_number,"
                "asset_tag,ip_address,mac_address,company,owned_by,managed_by,managed_by_group,support_group,"
                "assignment_group,u_business_criticality,install_status,operational_status,discovery_source,"
                "sys_updated_on,sys_created_on,short_description,comments,fqdn,dns_domain,os,os_version"),
          cmdb.import_cmdb, sniff=_cmdb_kind),
    Shape("cmdb_rel_ci", _cols("parent,child,type"), _cols("sys_id,sys_updated_on,sys_created_on,connection_strength"),
          cmdb.import_rel_ci, sniff=_variant_only("cmdb_rel_ci")),
    Shape("change_request", _cols("number,short_description,state"),
          _cols("sys_id,type,risk,impact,priority,category,cmdb_ci,assignment_group,assigned_to,requested_by,"
                "start_date,end_date,cab_required,approval,sys_created_on,sys_updated_on,description,"
                "approval_set,closed_at,close_code"),
          changes.import_changes, sniff=_variant_only("change_request")),
    Shape("sysapproval_approver", _cols("approver,state,sysapproval"),
          _cols("sys_id,source_table,due_date,sys_created_on,sys_updated_on,comments,comment"),
          changes.import_approvals, sniff=_variant_only("sysapproval_approver")),
    Shape("ot_inventory_nozomi", _cols("id,name,ip,mac_address,level"),
          _cols("appliance_hosts,capture_device,mac_vendor,vendor,product_name,firmware_version,serial_number,os,"
                "os_or_firmware,type,roles,protocols,zones,vlan_id,custom_fields,last_activity_time,"
                "first_activity_time"),
          assets.import_nozomi),
    Shape("entra_users", _cols("id,userprincipalname,displayname"),
          _cols("givenname,surname,mail,jobtitle,department,companyname,officelocation,city,country,"
                "usagelocation,employeeid,employeetype,usertype,accountenabled,createddatetime,"
                "manager_userprincipalname,mobilephone,businessphones,preferredlanguage"),
          people.import_entra),
    Shape("entra_group_members", _cols("group_id,group,member_id"), _cols("member_userprincipalname"),
          teams.import_entra_group_members),
    Shape("slack_users", _cols("id,name,deleted,is_bot"),
          _cols("team_id,real_name,is_restricted,is_ultra_restricted,tz,tz_label,tz_offset,profile.email,"
                "profile.title,profile.display_name,profile.real_name,email,is_admin,is_owner,updated"),
          people.import_slack),
    Shape("netbox_devices", _cols("name,device_type,site"),
          _cols("role,manufacturer,location,tenant,status,serial,asset_tag,primary_ip4,primary_ip6,primary_ip,"
                "description,platform,rack,position,ip_addresses"),
          assets.import_netbox_devices),
    Shape("netbox_contacts", _cols("name,email,phone"), _cols("title,groups,group,address,link,description"),
          netbox.import_contacts),
    Shape("netbox_contact_roles", _cols("name,slug"), _cols("description"), netbox.import_contact_roles),
    Shape("netbox_contact_assignments", _cols("object_type,object,contact,role"), _cols("priority"),
          netbox.import_contact_assignments),
    Shape("raci_matrix", _cols("activity_id,activity"), _cols("process_area,scope,notes,note"),
          governance.import_raci, open_columns=True),
    Shape("role_assignments", _cols("role,scope,holder"),
          _cols("holder_type,holder_upn,valid_from,valid_to,note,notes"), governance.import_role_assignments),
    Shape("decision_rights", _cols("decision_id,decision,decision_owner_role"),
          _cols("scope,must_consult,may_veto,informed,escalation_role,evidence_required,reference"),
          governance.import_decision_rights),
    Shape("sla_policies", _cols("policy_id,business_criticality,priority,response_target_minutes,"
                                "resolution_target_hours"),
          _cols("schedule,breach_notify_at_pct"), governance.import_sla),
    Shape("escalation_chains", _cols("chain_id,level,after_minutes,target_type,target"),
          _cols("applies_to_support_group,applies_to_groups,site_code,channel,channels,hours,note"),
          governance.import_escalation),
]
SHAPES_BY_KIND = {s.kind: s for s in SHAPES}
SHAPES_BY_KIND["cmdb_ci_raw"] = SHAPES_BY_KIND["cmdb_ci"]

# Files are applied stage by stage; inside a stage, in the order listed.
STAGES: list[tuple[str, list[str]]] = [
    ("sites", ["sites", "site_shutdowns"]),
    ("hierarchy", ["isa95_hierarchy"]),
    ("zones", ["zones"]),
    ("people", ["servicenow_sys_user", "entra_users", "slack_users"]),
    ("teams", ["teams", "servicenow_sys_user_group"]),
    ("memberships", ["servicenow_sys_user_grmember", "entra_group_members"]),
    ("systems", ["cmdb_ci", "cmdb_ci_raw"]),
    ("ot inventory", ["ot_inventory_nozomi"]),
    ("netbox", ["netbox_devices", "netbox_contacts", "netbox_contact_roles", "netbox_contact_assignments"]),
    ("relations", ["cmdb_rel_ci", "conduits"]),
    ("raci", ["raci_matrix"]),
    ("roles", ["role_assignments"]),
    ("decision rights", ["decision_rights"]),
    ("sla", ["sla_policies"]),
    ("escalation", ["escalation_chains"]),
    ("changes", ["change_request"]),
    ("approvals", ["sysapproval_approver"]),
]
ORDER = {kind: (i, j) for i, (_stage, kinds) in enumerate(STAGES) for j, kind in enumerate(kinds)}


def recognise(f: CsvFile) -> tuple[Shape | None, str | None, list[str]]:
    """(shape, problem, unknown columns) for a file whose header and sample are read."""
    columns = f.columns
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        return None, f"duplicate column(s) in header: {', '.join(dupes)}", []
    present = set(columns)
    best: tuple[tuple[int, int, int], Shape] | None = None
    for shape in SHAPES:
        if not shape.required <= present:
            continue
        known = shape.required | shape.optional
        explained = len(present) if shape.open_columns else len(present & known)
        score = (len(shape.required), explained, -len(present - known))
        if shape.open_columns and len(present - known) == 0:
            continue
        if best is None or score > best[0]:
            best = (score, shape)
    if best is None:
        closest = max(SHAPES, key=lambda s: len(s.required & present) / len(s.required))
        have = len(closest.required & present) / len(closest.required)
        if have >= 0.5:
            missing = sorted(closest.required - present)
            return None, (f"unrecognised header: looks like {closest.kind} but lacks column(s) "
                          f"{', '.join(missing)}"), []
        shown = ", ".join(f.header[:8]) + (", ..." if len(f.header) > 8 else "")
        return None, f"unrecognised header ({shown}); not a file shape govbot imports", []
    shape = best[1]
    unknown: list[str] = []
    if not shape.open_columns:
        known = shape.required | shape.optional
        unknown = [h for h, c in zip(f.header, columns, strict=True) if c not in known]
    return shape, None, unknown
