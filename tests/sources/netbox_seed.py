"""Loads the sample organisation's NetBox data (examples/corvane/netbox_*.csv) into a NetBox through its
REST API, the way an administrator would build it: sites, locations, device types and roles, devices with
a management interface and primary IP, contact groups, contacts, roles and assignments."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pynetbox

SITE_SLUGS = {"Plant 1 Findlay": "us-fdl", "Werk Regensburg": "de-rgb"}


def slug(text: str) -> str:
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss").replace("&", "and")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


class Seeder:
    def __init__(self, api: pynetbox.api) -> None:
        self.api = api
        self.cache: dict[tuple[str, str], Any] = {}

    def ensure(self, endpoint: Any, key: str, **values: Any) -> Any:
        hit = self.cache.get((endpoint.url, key))
        if hit is None:
            hit = endpoint.create(**values)
            self.cache[(endpoint.url, key)] = hit
        return hit

    def site(self, name: str) -> Any:
        return self.ensure(self.api.dcim.sites, name, name=name, slug=SITE_SLUGS.get(name, slug(name)), status="active")

    def device(self, row: dict[str, str]) -> Any:
        api = self.api
        site = self.site(row["site"])
        location = self.ensure(api.dcim.locations, f"{row['site']}/{row['location']}", name=row["location"],
                               slug=slug(row["location"]), site=site.id, status="active")
        maker = self.ensure(api.dcim.manufacturers, row["manufacturer"], name=row["manufacturer"],
                            slug=slug(row["manufacturer"]))
        dtype = self.ensure(api.dcim.device_types, row["device_type"], manufacturer=maker.id, model=row["device_type"],
                            slug=slug(row["device_type"]))
        role = self.ensure(api.dcim.device_roles, row["role"], name=row["role"], slug=slug(row["role"]))
        tenant = self.ensure(api.tenancy.tenants, row["tenant"], name=row["tenant"], slug=slug(row["tenant"]))
        device = api.dcim.devices.create(
            name=row["name"], device_type=dtype.id, role=role.id, site=site.id, location=location.id, tenant=tenant.id,
            status=row["status"] or "active", serial=row["serial"], asset_tag=row["asset_tag"] or None,
            description=row["description"],
        )
        if row.get("primary_ip4"):
            self.address(device, row["primary_ip4"], primary=True)
        return device

    def address(self, device: Any, address: str, *, primary: bool, interface: str = "mgmt0") -> Any:
        api = self.api
        iface = api.dcim.interfaces.get(device_id=device.id, name=interface) or \
            api.dcim.interfaces.create(device=device.id, name=interface, type="1000base-t")
        ip = api.ipam.ip_addresses.create(address=address, assigned_object_type="dcim.interface",
                                          assigned_object_id=iface.id, status="active")
        if primary:
            device.primary_ip4 = ip.id
            device.save()
        return ip

    def contact(self, row: dict[str, str]) -> Any:
        groups = [self.ensure(self.api.tenancy.contact_groups, g, name=g, slug=slug(g)).id
                  for g in (x.strip() for x in row["groups"].split(";")) if g]
        return self.ensure(self.api.tenancy.contacts, row["name"], name=row["name"], title=row["title"],
                           phone=row["phone"], email=row["email"], groups=groups)

    def role(self, row: dict[str, str]) -> Any:
        return self.ensure(self.api.tenancy.contact_roles, row["name"], name=row["name"], slug=row["slug"],
                           description=row["description"])

    def assign(self, row: dict[str, str], devices: dict[str, Any]) -> Any:
        target = devices[row["object"]] if row["object_type"] == "dcim.device" else self.site(row["object"])
        return self.api.tenancy.contact_assignments.create(
            object_type=row["object_type"], object_id=target.id, contact=self.cache[(self.api.tenancy.contacts.url,
                                                                                     row["contact"])].id,
            role=self.cache[(self.api.tenancy.contact_roles.url, row["role"])].id, priority=row["priority"] or None,
        )


def load_corvane(api: pynetbox.api, folder: Path) -> Seeder:
    seeder = Seeder(api)
    devices = {row["name"]: seeder.device(row) for row in _rows(folder, "netbox_devices.csv")}
    for row in _rows(folder, "netbox_contacts.csv"):
        seeder.contact(row)
    for row in _rows(folder, "netbox_contact_roles.csv"):
        seeder.role(row)
    for row in _rows(folder, "netbox_contact_assignments.csv"):
        seeder.assign(row, devices)
    return seeder
