"""Delivered outbox rows keep their Telegram message ids; deactivated users get nothing.

On both backends: Telegram ids and group chat ids pass 32 bits, and the duplicate-skip
insert of a delivery (a row sent again after a lease ran out) has a PostgreSQL branch.
"""

from __future__ import annotations

import datetime as dt

from storage import Store
from storage.coordination import (
    MessageKind,
    delivered_message,
    enqueue,
    idle_screenings,
    is_deactivated,
    mark_sent,
    messages,
)

INVESTIGATOR = 100
COORDINATOR = 200
GROUP_CHAT = -1001234567890


def _open(store: Store, code: str = "P-001") -> int:
    screening = store.create_screening(code, "acse", "1.0", "a" * 64, INVESTIGATOR, "consent")
    assert screening.id is not None
    return screening.id


def test_a_delivered_row_is_found_by_any_of_its_telegram_messages(store: Store) -> None:
    sid = _open(store)
    with store.screening_tx(sid) as tx:
        enqueue(tx._live(), sid, [INVESTIGATOR, GROUP_CHAT], MessageKind.QUERY, "7", {"q": 1})
    to_investigator, to_group = messages(store, sid)
    assert to_investigator.id is not None and to_group.id is not None
    mark_sent(store, to_investigator.id, None, INVESTIGATOR, [41, 42])  # two pieces
    mark_sent(store, to_investigator.id, None, INVESTIGATOR, [42])  # sent again: no clash
    mark_sent(store, to_group.id, None, GROUP_CHAT, [2**40])

    for piece in (41, 42):
        found = delivered_message(store, INVESTIGATOR, piece)
        assert found is not None and found.id == to_investigator.id
    found = delivered_message(store, GROUP_CHAT, 2**40)
    assert found is not None and found.id == to_group.id
    assert delivered_message(store, GROUP_CHAT, 41) is None  # ids are per chat
    assert delivered_message(store, INVESTIGATOR, 43) is None


def test_nothing_is_queued_for_a_deactivated_user_nor_are_they_reminded(store: Store) -> None:
    sid = _open(store)
    store.set_active(INVESTIGATOR, False, actor="test")
    assert is_deactivated(store, INVESTIGATOR)
    assert not is_deactivated(store, GROUP_CHAT) and not is_deactivated(store, 999)
    with store.screening_tx(sid) as tx:
        sent = enqueue(tx._live(), sid, [INVESTIGATOR, GROUP_CHAT], MessageKind.QUERY, "1", {})
    assert sent == 1
    assert [m.recipient for m in messages(store, sid)] == [GROUP_CHAT]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert idle_screenings(store, later) == []
    store.set_active(INVESTIGATOR, True, actor="test")
    assert [i.screening.id for i in idle_screenings(store, later)] == [sid]
