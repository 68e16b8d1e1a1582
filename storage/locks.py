"""Per-key locks that exist only while someone holds or waits for them.

One lock per screening serialises its updates inside a process; a weak registry means
100,000 screenings touched once leave no 100,000 locks behind.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable, Iterator
from contextlib import contextmanager


class _KeyLock:
    # threading.Lock cannot be weakly referenced; this wrapper can.
    __slots__ = ("__weakref__", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()


class KeyedLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: weakref.WeakValueDictionary[Hashable, _KeyLock] = weakref.WeakValueDictionary()

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            entry = self._locks.get(key)
            if entry is None:
                entry = _KeyLock()
                self._locks[key] = entry
        # `entry` is a strong reference for as long as this frame holds or waits.
        with entry.lock:
            yield

    def __len__(self) -> int:
        """Live locks: those held or awaited right now (used by tests and the benchmark)."""
        with self._guard:
            return len(self._locks)
