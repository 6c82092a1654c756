"""Builds the Teams app package with the standard library only: icons (zlib PNG writer) and the zip.

* ``color.png``: 192×192, full colour: a rounded tile in the govbot blue with a white ring and dot;
* ``outline.png``: 32×32, white on a transparent background (Teams requires exactly that);
* ``govbot-teams.zip``: ``manifest.json`` and both icons at the root of the archive.  With
  ``--bot-id`` (or ``GOVBOT_TEAMS_APP_ID`` in the environment) the placeholder app and bot ids in the
  manifest are replaced by the Azure Bot's Microsoft App ID.

Run: ``python deploy/teams/package.py [--bot-id GUID]`` (``make teams-package`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

Pixel = tuple[int, int, int, int]
BLUE: Pixel = (0x1F, 0x5F, 0xA8, 0xFF)
WHITE: Pixel = (0xFF, 0xFF, 0xFF, 0xFF)
CLEAR: Pixel = (0, 0, 0, 0)


def png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _mark(size: int, x: int, y: int) -> bool:
    """The govbot mark: a ring with a dot, scaled to ``size``."""
    cx = cy = (size - 1) / 2
    d2 = (x - cx) ** 2 + (y - cy) ** 2
    outer, inner, dot = 0.36 * size, 0.24 * size, 0.09 * size
    return inner * inner <= d2 <= outer * outer or d2 <= dot * dot


def color(x: int, y: int, size: int = 192) -> Pixel:
    radius, edge = 36, size - 1
    corner_x = min(x, edge - x)
    corner_y = min(y, edge - y)
    if corner_x < radius and corner_y < radius and (radius - corner_x) ** 2 + (radius - corner_y) ** 2 > radius**2:
        return CLEAR
    return WHITE if _mark(size, x, y) else BLUE


def outline(x: int, y: int, size: int = 32) -> Pixel:
    return WHITE if _mark(size, x, y) else CLEAR


HERE = Path(__file__).resolve().parent
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def write_icons(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "color.png").write_bytes(png(192, 192, color))
    (out / "outline.png").write_bytes(png(32, 32, outline))


def manifest(bot_id: str | None) -> str:
    text = (HERE / "manifest.json").read_text(encoding="utf-8")
    data = json.loads(text)  # fails loudly on a broken manifest
    if bot_id:
        data["bots"][0]["botId"] = bot_id
        data["webApplicationInfo"] = {"id": bot_id, "resource": f"api://botid-{bot_id}"}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def package(out: Path, *, bot_id: str | None) -> Path:
    write_icons(out)
    target = out / "govbot-teams.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", manifest(bot_id))
        zf.write(out / "color.png", "color.png")
        zf.write(out / "outline.png", "outline.png")
    return target


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bot-id", default=os.environ.get("GOVBOT_TEAMS_APP_ID"))
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--icons-only", action="store_true")
    args = parser.parse_args()
    if args.icons_only:
        write_icons(args.out)
    else:
        print(package(args.out, bot_id=args.bot_id))
