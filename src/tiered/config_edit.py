"""Rewrite one router's thresholds in a tiered TOML config, in place, leaving every other byte alone.

The router is a table: a route (`routes.NAME`) or a named policy (`policies.NAME`) whose
`policy = "router"`. TOML has no round-trip writer in the standard library, so this edits text: it
finds the table's `thresholds` (a `[TABLE.thresholds]` table, or an inline `thresholds = {...}` in
`[TABLE]`), replaces its `tiers`/`cuts`, or adds a `[TABLE.thresholds]` table when it has none. The
result is parsed back and checked before it is written; `update_config_file` also loads it as a
config, so a file it writes is one `tiered` accepts.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from tiered.errors import ConfigError

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def _toml_list(values: Sequence[str] | Sequence[float]) -> str:
    return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else repr(float(v)) for v in values) + "]"


def _sections(lines: list[str]) -> list[tuple[str, int]]:
    """(table name, line index of its header), with "" for the top level at -1."""
    out = [("", -1)]
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        if m and not line.lstrip().startswith("[["):
            out.append((".".join(p.strip().strip('"') for p in m.group(1).split(".")), i))
    return out


def set_route_thresholds(text: str, route: str, tiers: Sequence[str], cuts: Sequence[float]) -> str:
    """`text` with route `route`'s thresholds set to `tiers`/`cuts`."""
    return set_thresholds(text, f"routes.{route}", tiers, cuts)


def set_thresholds(text: str, table: str, tiers: Sequence[str], cuts: Sequence[float]) -> str:
    """`text` with the thresholds of the router at `table` ("routes.NAME" or "policies.NAME") set."""
    data = tomllib.loads(text)
    kind, _, route = table.partition(".")
    routes = data.get(kind) or {}
    if kind not in ("routes", "policies") or route not in routes:
        raise ConfigError(f"{table}: no such {kind[:-1] or 'table'} ({kind}: {', '.join(routes) or 'none'})")
    lines = text.splitlines(keepends=True)
    sections = _sections(lines)
    new_tiers, new_cuts = _toml_list(tiers), _toml_list(cuts)

    def span(name: str) -> tuple[int, int] | None:
        for k, (sec, start) in enumerate(sections):
            if sec == name:
                end = sections[k + 1][1] if k + 1 < len(sections) else len(lines)
                return start + 1, end
        return None

    found = span(f"{table}.thresholds")
    if found is not None:
        start, end = found
        done = {"tiers": False, "cuts": False}
        for i in range(start, end):
            for key, value in (("tiers", new_tiers), ("cuts", new_cuts)):
                if re.match(rf"^\s*{key}\s*=", lines[i]):
                    lines[i] = re.sub(rf"^(\s*{key}\s*=\s*)\[[^\]]*\]", rf"\g<1>{value}", lines[i].rstrip("\n")) + "\n"
                    done[key] = True
        missing = "".join(f"{key} = {value}\n" for key, value in (("tiers", new_tiers), ("cuts", new_cuts))
                          if not done[key])
        if missing:
            lines.insert(start, missing)
    else:
        body = span(table)
        inline = None
        if body is not None:
            inline = next((i for i in range(*body) if re.match(r"^\s*thresholds\s*=\s*\{", lines[i])), None)
        if inline is not None:
            lines[inline] = re.sub(r"\{.*\}", "{ tiers = " + new_tiers + ", cuts = " + new_cuts + " }",
                                   lines[inline], count=1)
        else:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines.append(f"\n[{table}.thresholds]\ntiers = {new_tiers}\ncuts = {new_cuts}\n")
    out = "".join(lines)
    check = tomllib.loads(out)[kind][route].get("thresholds") or {}
    if list(check.get("tiers", [])) != list(tiers) or [float(c) for c in check.get("cuts", [])] != list(cuts):
        raise ConfigError(f"{table}.thresholds: could not rewrite it in place; edit it by hand")
    return out


def update_config_file(path: str | Path, table: str, tiers: Sequence[str], cuts: Sequence[float]) -> None:
    """Set the thresholds of the router at `table` in the config file `path`; the new file must load."""
    from tiered.config import SERVER_TABLES, parse_config

    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {p}: {e}") from e
    out = set_thresholds(text, table, tiers, cuts)
    try:
        library = {k: v for k, v in tomllib.loads(out).items() if k not in SERVER_TABLES}
        parse_config(library, source=str(p), base_dir=p.parent)
    except ConfigError as e:
        raise ConfigError(f"{p}: not written, the new thresholds would not load: {e}") from e
    p.write_text(out, "utf-8")
