"""Router versions per route: added, promoted, rolled back; and published to every gateway replica.

A registry is a directory (`[learning] registry`):

    routers/registry.json          {"routes": {route: {"current": id | null, "history": [id, ...]}},
                                    "versions": {route: [{"id", "file", "added_at", "metadata", "cuts",
                                                          "verification", "promoted_at"}]}}
    routers/default-v0001.json.gz  the router files, copied in when added (never edited afterwards)

`history` lists the promoted versions in promotion order; `current` is its last one (None: the route runs its
configured scorer). `rollback` promotes the version before the current one again (or none at all). `cuts` are
the route's thresholds for that router (a learned router's scores are on a scale of their own, so a version
carries the cuts that keep the route's declared target; see `tiered.online.calibration`).

With Redis (`[state] redis`), a promotion is also published: `tiered:router:<route>:file:<id>` holds the file's
bytes and `tiered:router:<route>:current` a small JSON pointer ({"id", "cuts", "sha256"}), written last. Every
gateway polls the pointer (`Published`) and installs a new version without a restart; without Redis it polls
`registry.json` on its own disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiered.errors import ConfigError

INDEX = "registry.json"
POINTER = "tiered:router:{route}:current"
FILE_KEY = "tiered:router:{route}:file:{id}"


@dataclass(frozen=True, slots=True)
class Version:
    route: str
    id: str
    file: Path
    added_at: float
    metadata: dict[str, Any]
    cuts: tuple[float, ...] | None = None
    verification: dict[str, Any] | None = None
    promoted_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "file": self.file.name, "added_at": self.added_at, "metadata": self.metadata,
                "cuts": None if self.cuts is None else list(self.cuts), "verification": self.verification,
                "promoted_at": self.promoted_at}


@dataclass(frozen=True, slots=True)
class Pointer:
    """What a gateway installs: a version id, its cuts, and the file's bytes."""

    route: str
    id: str | None
    cuts: tuple[float, ...] | None
    data: bytes | None


class RouterRegistry:
    def __init__(self, root: str | os.PathLike[str], *, redis: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.redis = redis
        self._clock = clock

    # -- the index ---------------------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        path = self.root / INDEX
        if not path.exists():
            return {"routes": {}, "versions": {}}
        try:
            data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"router registry {path}: cannot read it: {e}") from e
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{INDEX}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), "utf-8")
        os.replace(tmp, self.root / INDEX)  # readers see the old index or the new one, never half of one

    def _version(self, route: str, raw: dict[str, Any]) -> Version:
        cuts = raw.get("cuts")
        return Version(route, raw["id"], self.root / raw["file"], float(raw["added_at"]), dict(raw["metadata"]),
                       None if cuts is None else tuple(float(c) for c in cuts), raw.get("verification"),
                       raw.get("promoted_at"))

    def routes(self) -> list[str]:
        data = self._read()
        return sorted(set(data["versions"]) | set(data["routes"]))

    def versions(self, route: str) -> list[Version]:
        return [self._version(route, v) for v in self._read()["versions"].get(route, [])]

    def get(self, route: str, version_id: str) -> Version:
        for v in self.versions(route):
            if v.id == version_id:
                return v
        known = ", ".join(v.id for v in self.versions(route)) or "none"
        raise ConfigError(f"route {route!r} has no router version {version_id!r} (versions: {known})")

    def history(self, route: str) -> list[str]:
        return list(self._read()["routes"].get(route, {}).get("history", []))

    def current(self, route: str) -> Version | None:
        entry = self._read()["routes"].get(route, {})
        current = entry.get("current")
        return None if current is None else self.get(route, current)

    # -- changes -----------------------------------------------------------------------------------------

    def add(self, route: str, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None,
            verification: dict[str, Any] | None = None) -> Version:
        """Copy a router file in as the route's next version (not promoted)."""
        from tiered.learning.router import read_metadata

        src = Path(path)
        meta = read_metadata(src) if metadata is None else metadata
        data = self._read()
        versions = data["versions"].setdefault(route, [])
        vid = f"v{len(versions) + 1:04d}"
        suffix = ".json.gz" if src.name.endswith(".gz") else ".json"
        dest = self.root / f"{route}-{vid}{suffix}"
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        version = Version(route, vid, dest, self._clock(), meta, None, verification)
        versions.append(version.to_json())
        self._write(data)
        return version

    def promote(self, route: str, version_id: str, *, cuts: Sequence[float] | None = None,
                verification: dict[str, Any] | None = None) -> Version:
        """Make a version the route's current one (with the cuts it runs at) and publish it."""
        data = self._read()
        versions = data["versions"].get(route, [])
        raw = next((v for v in versions if v["id"] == version_id), None)
        if raw is None:
            raise ConfigError(f"route {route!r} has no router version {version_id!r}")
        if cuts is not None:
            raw["cuts"] = [float(c) for c in cuts]
        if verification is not None:
            raw["verification"] = verification
        raw["promoted_at"] = self._clock()
        entry = data["routes"].setdefault(route, {"current": None, "history": []})
        entry["history"].append(version_id)
        entry["current"] = version_id
        self._write(data)
        version = self._version(route, raw)
        self.publish(route, version)
        return version

    def rollback(self, route: str) -> Version | None:
        """Return to the version promoted before the current one (None: the route's configured scorer)."""
        data = self._read()
        entry = data["routes"].get(route)
        if not entry or entry.get("current") is None:
            raise ConfigError(f"route {route!r} has no promoted router to roll back")
        history: list[str] = entry["history"]
        history.pop()
        entry["current"] = history[-1] if history else None
        self._write(data)
        version = None if entry["current"] is None else self.get(route, entry["current"])
        self.publish(route, version)
        return version

    def set_cuts(self, route: str, version_id: str, cuts: Sequence[float]) -> Version:
        """Re-calibrated thresholds for a version; republished when it is the current one."""
        data = self._read()
        raw = next((v for v in data["versions"].get(route, []) if v["id"] == version_id), None)
        if raw is None:
            raise ConfigError(f"route {route!r} has no router version {version_id!r}")
        raw["cuts"] = [float(c) for c in cuts]
        self._write(data)
        version = self._version(route, raw)
        if data["routes"].get(route, {}).get("current") == version_id:
            self.publish(route, version)
        return version

    def publish(self, route: str, version: Version | None) -> None:
        """Put the route's current version where every replica looks (Redis), file first, pointer last."""
        if self.redis is None:
            return
        if version is None:
            self.redis.set(POINTER.format(route=route), json.dumps({"id": None, "cuts": None, "sha256": None}))
            return
        data = version.file.read_bytes()
        self.redis.set(FILE_KEY.format(route=route, id=version.id), data)
        pointer = {"id": version.id, "cuts": None if version.cuts is None else list(version.cuts),
                   "sha256": hashlib.sha256(data).hexdigest()}
        self.redis.set(POINTER.format(route=route), json.dumps(pointer))

    # -- what a gateway reads ----------------------------------------------------------------------------

    def stamp(self, route: str) -> str:
        """Cheap to read, changes whenever the route's current version or its cuts change."""
        if self.redis is not None:
            raw = self.redis.get(POINTER.format(route=route))
            return "" if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)
        current = self._read()["routes"].get(route, {}).get("current")
        if current is None:
            return ""
        v = self.get(route, current)
        return json.dumps({"id": v.id, "cuts": None if v.cuts is None else list(v.cuts)})

    def pointer(self, route: str) -> Pointer:
        """The route's current version, as a gateway installs it."""
        if self.redis is not None:
            raw = self.redis.get(POINTER.format(route=route))
            if raw is None:
                return Pointer(route, None, None, None)
            p = json.loads(raw)
            if p.get("id") is None:
                return Pointer(route, None, None, None)
            data = self.redis.get(FILE_KEY.format(route=route, id=p["id"]))
            if data is None or hashlib.sha256(data).hexdigest() != p.get("sha256"):
                raise ConfigError(f"router {route}/{p['id']}: the published file is missing or does not match")
            return Pointer(route, p["id"], None if p.get("cuts") is None else tuple(p["cuts"]), data)
        v = self.current(route)
        if v is None:
            return Pointer(route, None, None, None)
        return Pointer(route, v.id, v.cuts, v.file.read_bytes())
