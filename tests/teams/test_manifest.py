"""The Teams app package: manifest, icons and the zip."""

from __future__ import annotations

import importlib.util
import json
import struct
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEAMS = ROOT / "deploy" / "teams"


def _package_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("teams_package", TEAMS / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_size(data: bytes) -> tuple[int, int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, colour


def test_manifest_declares_the_bot_in_every_scope_with_its_commands() -> None:
    manifest = json.loads((TEAMS / "manifest.json").read_text(encoding="utf-8"))
    major, minor = (int(p) for p in manifest["manifestVersion"].split(".")[:2])
    assert (major, minor) >= (1, 16)
    [bot] = manifest["bots"]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    titles = [c["title"] for cl in bot["commandLists"] for c in cl["commands"]]
    assert titles == ["who", "raci", "sla", "deps", "owns", "change", "approvals", "dashboard", "notify", "help"]
    assert len(titles) <= 10, "Teams shows at most ten commands per list"
    # Reading govbot's own messages back (an interrupted send is found, not posted twice).
    granted = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert {"name": "ChatMessage.Read.Chat", "type": "Application"} in granted
    assert {"name": "ChannelMessage.Read.Group", "type": "Application"} in granted
    assert manifest["validDomains"]
    assert manifest["icons"] == {"outline": "outline.png", "color": "color.png"}


def test_package_has_manifest_and_icons_of_the_required_sizes(tmp_path: Path) -> None:
    package = _package_module()
    bot_id = "6f0b1a52-7c3e-4d0e-9c1a-3b2f4e5d6a7b"
    target = package.package(tmp_path, bot_id=bot_id)
    with zipfile.ZipFile(target) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["bots"][0]["botId"] == bot_id
        assert _png_size(zf.read("color.png")) == (192, 192, 6)
        outline = zf.read("outline.png")
    assert _png_size(outline) == (32, 32, 6)
    # The outline icon is white on transparent: every pixel is either clear or opaque white.
    import zlib

    idat = b"".join(outline[i + 8:i + 8 + struct.unpack(">I", outline[i:i + 4])[0]]
                    for i in range(8, len(outline) - 12) if outline[i + 4:i + 8] == b"IDAT")
    raw = zlib.decompress(idat)
    pixels = [raw[row * 129 + 1 + col * 4: row * 129 + 5 + col * 4] for row in range(32) for col in range(32)]
    assert set(pixels) == {b"\x00\x00\x00\x00", b"\xff\xff\xff\xff"}
