"""Who is calling, and what that key may do: the flat key list, the named keys, the admin keys.

`Keyring.authenticate` turns a request's `x-api-key` / `Authorization: Bearer` into a `Caller`:

- a named key (`[[gateway.keys]]`, or the key table when `[gateway] key_store = true`): its limits
  count against `key:<name>`, and its records carry its name; revoked or expired keys get a 401 that
  says so;
- a key of the flat list (`$TIERED_GATEWAY_KEYS`) or an admin key: counted and recorded under its
  short digest (`key_<16 hex>`), as before named keys existed;
- no keys configured at all: every caller is `anonymous` (an open gateway).

Only SHA-256 digests are held and compared; the key table is re-read (off the event loop) every
`refresh_s`, and at most once a second when an unknown key shows up, so `tiered keys create | revoke`
takes effect on running replicas within seconds. `admin` callers may read the operator's endpoints
(`/v1/tiered/*`, the dashboard's data): admin keys (`$TIERED_ADMIN_KEYS`) and named keys with `admin = true`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tiered.gateway.auth import ANONYMOUS, caller_id, presented_key
from tiered.gateway.keys import GatewayKey
from tiered.gateway.settings import GatewaySettings
from tiered.gateway.wire import HttpError, Scope

log = logging.getLogger("tiered.gateway")
KeyLoader = Callable[[], Iterable[GatewayKey]]


@dataclass(frozen=True, slots=True)
class Caller:
    id: str
    """What rate limits and budgets count against (`key:<name>`, `key_<digest>` or `anonymous`)."""
    key_name: str | None = None
    """What the request log records (None on an open gateway)."""
    key: GatewayKey | None = None
    admin: bool = False


OPEN = Caller(ANONYMOUS)


class Keyring:
    def __init__(self, settings: GatewaySettings, *, store: KeyLoader | None = None, refresh_s: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._flat = frozenset(hashlib.sha256(k.encode()).hexdigest() for k in settings.keys)
        self._admin = frozenset(hashlib.sha256(k.encode()).hexdigest() for k in settings.admin_keys)
        self._config = {k.secret_sha256: k for k in settings.named_keys}
        self._open = settings.open
        self._store = store if settings.key_store else None
        self._stored: dict[str, GatewayKey] = {}
        self._loaded = -1e18
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def open(self) -> bool:
        return self._open

    @property
    def has_admin(self) -> bool:
        return bool(self._admin) or any(k.admin for k in (*self._config.values(), *self._stored.values()))

    def named_keys(self) -> list[GatewayKey]:
        """Every named key known now (config first, then the key table), for the dashboard."""
        merged = {**{k.name: k for k in self._stored.values()}, **{k.name: k for k in self._config.values()}}
        return [merged[n] for n in sorted(merged)]

    async def refresh(self, *, at_most_every: float | None = None) -> None:
        if self._store is None:
            return
        every = self._refresh_s if at_most_every is None else at_most_every
        if self._clock() - self._loaded < every:
            return
        async with self._lock:
            if self._clock() - self._loaded < every:
                return
            store = self._store
            try:
                loaded = await asyncio.to_thread(lambda: list(store()))
            except Exception:  # keep serving the keys read last; say why the table could not be read
                log.exception("could not read the gateway key table; keeping the %d keys read before",
                              len(self._stored))
                self._loaded = self._clock()
                return
            self._stored = {k.secret_sha256: k for k in loaded}
            self._loaded = self._clock()

    async def authenticate(self, scope: Scope, *, admin: bool = False) -> Caller:
        """The caller of a request; `HttpError` 401 without a key that fits, 403 when `admin` is asked of
        a key that is not an admin key."""
        if self._open and not admin:
            return OPEN
        if admin and not self.has_admin:
            await self.refresh()
            if not self.has_admin:
                raise HttpError(403, "permission_error", "no admin key is configured: set $TIERED_ADMIN_KEYS, or "
                                "give a [[gateway.keys]] entry admin = true")
        secret = presented_key(scope)
        if secret is None:
            raise HttpError(401, "authentication_error", "x-api-key or Authorization: Bearer header is required")
        digest = hashlib.sha256(secret.encode()).hexdigest()
        await self.refresh()
        named = self._config.get(digest) or self._stored.get(digest)
        if named is None and self._store is not None and digest not in self._flat | self._admin:
            await self.refresh(at_most_every=1.0)  # a key created a moment ago
            named = self._stored.get(digest)
        caller: Caller
        if named is not None:
            if named.revoked_at is not None:
                raise HttpError(401, "authentication_error", f"gateway key {named.name!r} was revoked")
            if named.expired(self._clock()):
                raise HttpError(401, "authentication_error", f"gateway key {named.name!r} has expired")
            caller = Caller(f"key:{named.name}", named.name, named, named.admin or digest in self._admin)
        elif digest in self._flat or digest in self._admin:
            short = caller_id(secret)
            caller = Caller(short, short, None, digest in self._admin)
        else:
            raise HttpError(401, "authentication_error", "invalid gateway key")
        if admin and not caller.admin:
            raise HttpError(403, "permission_error", "this endpoint needs an admin key ($TIERED_ADMIN_KEYS, or a "
                            "[[gateway.keys]] entry with admin = true)")
        return caller

    def __repr__(self) -> str:
        return (f"Keyring({len(self._flat)} flat, {len(self._config)} named, {len(self._stored)} stored, "
                f"{len(self._admin)} admin)")
