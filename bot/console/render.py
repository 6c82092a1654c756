"""Reply → console text, with numbered choices for every button."""

from __future__ import annotations

import textwrap

from handlers.reply import Button, Reply


def clickables(reply: Reply) -> list[tuple[str, str, str]]:
    """Everything a user can pick, numbered in display order: (label, action_id, value)."""
    items = [(f"{c.label}" + (f"  ({c.detail})" if c.detail else ""), "govbot.choose", c.value) for c in reply.choices]
    items += [(b.label, b.action_id, b.value) for b in reply.buttons if not b.is_link]
    return items


def render(reply: Reply, *, width: int = 100) -> str:
    lines: list[str] = [reply.text]
    for section in reply.sections:
        lines.append("")
        if section.title:
            lines.append(section.title)
            lines.append("─" * min(width, max(len(section.title), 20)))
        if section.text:
            lines.append(section.text)
        label_w = min(32, max((len(f.label) for f in section.fields), default=0))
        for f in section.fields:
            value_lines = f.value.splitlines() or [""]
            first = True
            for vl in value_lines:
                for wrapped in textwrap.wrap(vl, width=max(20, width - label_w - 3)) or [""]:
                    lines.append(f"{f.label if first else '':<{label_w}} : {wrapped}" if first else f"{'':<{label_w}}   {wrapped}")
                    first = False
    if reply.warnings:
        lines.append("")
        lines.extend(f"⚠ {w}" for w in reply.warnings)
    items = clickables(reply)
    links = [b for b in reply.buttons if b.is_link]
    if items or links:
        lines.append("")
        for i, (label, _aid, _value) in enumerate(items, 1):
            lines.append(f"  [{i}] {label}")
        lines.extend(f"  {b.label}: {b.value}" for b in links)
    return "\n".join(lines)


def button_for(reply: Reply, number: int) -> Button | None:
    items = clickables(reply)
    if 1 <= number <= len(items):
        label, action_id, value = items[number - 1]
        return Button(label, action_id, value)
    return None
