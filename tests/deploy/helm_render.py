"""A tiny renderer for the subset of Helm's template language the govbot chart uses.

No Helm binary can be installed from this project's package sources, so the
chart test renders with this instead.  Anything outside the subset raises, so
a template construct it does not understand can never pass silently.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

ACTION = re.compile(r"{{(-?)\s*(.*?)\s*(-?)}}", re.S)


class Unsupported(Exception):
    pass


def _lookup(path: str, scope: dict[str, Any]) -> Any:
    if path == ".":
        return scope["."]
    if path.startswith("$"):
        name, _, rest = path.partition(".")
        value = scope[name]
        parts = rest.split(".") if rest else []
    else:
        value = scope["."]
        parts = path.lstrip(".").split(".")
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n")


def _eval(expr: str, scope: dict[str, Any], defines: dict[str, str]) -> Any:
    stages = [s.strip() for s in expr.split("|")]
    value = _call(stages[0], scope, defines)
    for stage in stages[1:]:
        name, *args = stage.split()
        if name == "quote":
            value = '"' + str(value).replace('"', '\\"') + '"'
        elif name == "nindent":
            pad = " " * int(args[0])
            value = "\n" + "\n".join(pad + line if line else line for line in str(value).splitlines())
        elif name == "indent":
            pad = " " * int(args[0])
            value = "\n".join(pad + line for line in str(value).splitlines())
        elif name == "sha256sum":
            value = hashlib.sha256(str(value).encode()).hexdigest()
        elif name == "trunc":
            value = str(value)[: int(args[0])]
        elif name == "trimSuffix":
            suffix = args[0].strip('"')
            value = str(value)[: -len(suffix)] if str(value).endswith(suffix) else value
        else:
            raise Unsupported(f"pipeline function {name!r}")
    return value


def _call(term: str, scope: dict[str, Any], defines: dict[str, str]) -> Any:
    words = term.split()
    head = words[0]
    if head.startswith(".") or head.startswith("$"):
        if len(words) != 1:
            raise Unsupported(term)
        return _lookup(head, scope)
    if head.startswith('"'):
        return head.strip('"')
    if head == "include":
        name = words[1].strip('"')
        return _render(defines[name], {".": _lookup(words[2], scope)}, defines).strip()
    if head == "toYaml":
        return _to_yaml(_lookup(words[1], scope))
    if head == "printf":
        fmt = re.match(r'printf\s+"([^"]*)"\s+(.*)', term)
        if not fmt:
            raise Unsupported(term)
        args = [_lookup(a, scope) for a in fmt.group(2).split()]
        return fmt.group(1) % tuple(args)
    raise Unsupported(f"function {head!r}")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in ACTION.finditer(text):
        literal = text[pos:m.start()]
        if m.group(1):
            literal = literal.rstrip()
        if out and out[-1][0] == "trim_next":
            out.pop()
            literal = literal.lstrip()
        out.append(("text", literal))
        out.append(("action", m.group(2)))
        if m.group(3):
            out.append(("trim_next", ""))
        pos = m.end()
    tail = text[pos:]
    if out and out[-1][0] == "trim_next":
        out.pop()
        tail = tail.lstrip()
    out.append(("text", tail))
    return out


def _render(text: str, scope: dict[str, Any], defines: dict[str, str]) -> str:
    tokens = _tokens(text)
    out, _ = _block(tokens, 0, scope, defines, stop=())
    return out


def _block(tokens: list[tuple[str, str]], i: int, scope: dict[str, Any], defines: dict[str, str],
           stop: tuple[str, ...]) -> tuple[str, int]:
    out = []
    while i < len(tokens):
        kind, body = tokens[i]
        if kind == "text":
            out.append(body)
            i += 1
            continue
        word = body.split()[0] if body else ""
        if word in stop:
            return "".join(out), i
        if word in ("if", "with"):
            value = _eval(body.split(None, 1)[1], scope, defines)
            inner_scope = dict(scope, **{".": value}) if word == "with" else scope
            then, j = _block(tokens, i + 1, inner_scope, defines, stop=("else", "end"))
            otherwise = ""
            if tokens[j][1].split()[0] == "else":
                otherwise, j = _block(tokens, j + 1, scope, defines, stop=("end",))
            out.append(then if value else otherwise)
            i = j + 1
        elif word == "range":
            m = re.match(r"range\s+(\$\w+),\s*(\$\w+)\s*:=\s*(\S+)", body)
            if not m:
                raise Unsupported(body)
            mapping = _lookup(m.group(3), scope) or {}
            start = i + 1
            end_index = start
            pieces = []
            for key, value in mapping.items():
                piece, end_index = _block(tokens, start, dict(scope, **{m.group(1): key, m.group(2): value}),
                                          defines, stop=("end",))
                pieces.append(piece)
            if not mapping:
                _, end_index = _block(tokens, start, scope, defines, stop=("end",))
            out.append("".join(pieces))
            i = end_index + 1
        elif word == "define":
            raise Unsupported("define outside _helpers.tpl")
        else:
            value = _eval(body, scope, defines)
            out.append("" if value is None else str(value))
            i += 1
    return "".join(out), i


def render_chart(chart_dir: Path, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    values = yaml.safe_load((chart_dir / "values.yaml").read_text())
    for key, value in (overrides or {}).items():
        values[key] = value
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    scope_root = {"Values": values, "Chart": {"Name": chart["name"], "AppVersion": chart["appVersion"]},
                  "Release": {"Name": "plant"}}
    defines: dict[str, str] = {}
    helpers = (chart_dir / "templates" / "_helpers.tpl").read_text()
    for m in re.finditer(r'{{-?\s*define\s+"([^"]+)"\s*-?}}(.*?){{-?\s*end\s*-?}}', helpers, re.S):
        defines[m.group(1)] = m.group(2)
    rendered = {}
    for tpl in sorted((chart_dir / "templates").glob("*.yaml")):
        rendered[tpl.name] = _render(tpl.read_text(), {".": scope_root}, defines)
    return rendered
