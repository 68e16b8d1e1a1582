"""Every loaded protocol version and its one Engine (hence one shared Machine).

A screening names its protocol by id, version and SHA-256; the registry hands back that
exact version's engine, so an in-progress screening stays on the version it started with
after a newer file is added.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from dialogs.engine import Clock, Engine
from dialogs.errors import ProtocolError
from dialogs.protocol import PROTOCOL_DIR, Protocol, load_protocol

DEFAULT_PROTOCOL_ID = "acse-pembrolizumab"


class ProtocolRegistry:
    def __init__(self, protocols: Iterable[Protocol], clock: Clock = dt.date.today) -> None:
        self._engines: dict[tuple[str, int], Engine] = {}
        for p in protocols:
            key = (p.id, p.version)
            if key in self._engines:
                other = self._engines[key].protocol.source
                raise ProtocolError(
                    p.source, None, f"{p.id} version {p.version} is also defined in {other}"
                )
            self._engines[key] = Engine(p, clock)
        if not self._engines:
            raise ProtocolError("<registry>", None, "no protocol loaded")

    @classmethod
    def from_directory(
        cls, directory: Path | None = None, clock: Clock = dt.date.today
    ) -> ProtocolRegistry:
        folder = directory or PROTOCOL_DIR
        return cls((load_protocol(p) for p in sorted(folder.glob("*.yaml"))), clock)

    def latest(self, protocol_id: str = DEFAULT_PROTOCOL_ID) -> Engine:
        versions = [v for (pid, v) in self._engines if pid == protocol_id]
        if not versions:
            raise ProtocolError("<registry>", protocol_id, "no such protocol is loaded")
        return self._engines[(protocol_id, max(versions))]

    def engine_for(self, protocol_id: str, version: int, sha256: str | None = None) -> Engine:
        """The engine of exactly that version; a changed file without a new version is refused."""
        engine = self._engines.get((protocol_id, version))
        if engine is None:
            raise ProtocolError("<registry>", protocol_id, f"version {version} is not loaded")
        if sha256 and engine.protocol.sha256 != sha256:
            raise ProtocolError(
                engine.protocol.source,
                protocol_id,
                f"version {version} changed since screenings started on it (sha256 differs): "
                "a changed protocol needs a new version number",
            )
        return engine

    def engines(self) -> list[Engine]:
        return list(self._engines.values())
