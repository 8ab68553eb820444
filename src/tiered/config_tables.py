"""Reading TOML tables strictly: every key is typed, every unknown key is an error that names it.

`Table` wraps one table and the dotted path that leads to it (`routes.code.thresholds`). Each
accessor records the key as read; `done()` then rejects whatever was not read, so a typo such as
`cutz` fails at load time with `routes.code.thresholds: unknown key 'cutz'` instead of being ignored.
Secrets are references, never values: `env:VAR` or LiteLLM's `os.environ/VAR` name a variable that
is read when the backend is built, so a key never sits in a config object, a repr or a record.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from tiered.errors import ConfigError

_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MISSING: Any = object()
D = TypeVar("D")


def env_ref(value: object, path: str) -> str:
    """The variable name in an `env:VAR` / `os.environ/VAR` reference; anything else is refused."""
    if isinstance(value, str):
        for prefix in ("env:", "os.environ/"):
            if value.startswith(prefix) and _ENV_VAR.fullmatch(value[len(prefix):]):
                return value[len(prefix):]
    raise ConfigError(f"{path}: write a reference to an environment variable (\"env:VAR\" or "
                      "\"os.environ/VAR\"); secrets are never written in the config file")


def _kind(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


class Table:
    """One TOML table being read; see the module docstring."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: must be a table, not {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path
        self._read: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def names(self) -> list[str]:
        return list(self.data)

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self._read.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            where = self.path or "config"
            # A required key is most often missing because it was misspelt: name the typo first.
            typo = difflib.get_close_matches(key, [k for k in self.data if k not in self._read], n=1, cutoff=0.6)
            if typo:
                raise ConfigError(f"{where}: unknown key {typo[0]!r} (did you mean {key!r}?)")
            raise ConfigError(f"{where}: missing key {key!r}")
        return default

    def text(self, key: str, default: D = _MISSING) -> str | D:
        value = self.raw(key, default)
        if value is not default and not isinstance(value, str):
            raise ConfigError(f"{self.at(key)}: must be a string, not {_kind(value)}")
        return value

    def choice(self, key: str, choices: Sequence[str], default: D = _MISSING) -> str | D:
        value = self.text(key, default)
        if value is not default and value not in choices:
            raise ConfigError(f"{self.at(key)}: must be one of {', '.join(choices)}, not {value!r}")
        return value

    def flag(self, key: str, default: D = _MISSING) -> bool | D:
        value = self.raw(key, default)
        if value is not default and not isinstance(value, bool):
            raise ConfigError(f"{self.at(key)}: must be true or false, not {_kind(value)}")
        return value

    def integer(self, key: str, default: D = _MISSING, *, minimum: int = 0) -> int | D:
        value = self.raw(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.at(key)}: must be an integer, not {_kind(value)}")
        if value < minimum:
            raise ConfigError(f"{self.at(key)}: must be at least {minimum}, got {value}")
        return value

    def number(self, key: str, default: D = _MISSING, *, minimum: float | None = 0.0) -> float | D:
        value = self.raw(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.at(key)}: must be a number, not {_kind(value)}")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{self.at(key)}: must be at least {minimum:g}, got {value}")
        return float(value)

    def texts(self, key: str, default: D = _MISSING, *, non_empty: bool = False) -> tuple[str, ...] | D:
        value = self.raw(key, default)
        if value is default:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.at(key)}: must be a list of strings")
        if non_empty and not value:
            raise ConfigError(f"{self.at(key)}: must not be empty")
        return tuple(value)

    def numbers(self, key: str) -> tuple[float, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                                  for v in value):
            raise ConfigError(f"{self.at(key)}: must be a list of numbers")
        return tuple(float(v) for v in value)

    def table(self, key: str, *, required: bool = False) -> Table | None:
        value = self.raw(key, _MISSING if required else None)
        return None if value is None else Table(value, self.at(key))

    def env(self, key: str) -> str | None:
        """The variable named by an optional secret reference at `key`."""
        value = self.raw(key, None)
        return None if value is None else env_ref(value, self.at(key))

    def done(self) -> None:
        unknown = [k for k in self.data if k not in self._read]
        if unknown:
            raise ConfigError(f"{self.path or 'config'}: unknown key {unknown[0]!r}")
