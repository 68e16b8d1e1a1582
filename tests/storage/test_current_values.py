"""The lean read the bot resumes from must agree with the full answer records."""

from __future__ import annotations

from storage import Store


def test_current_values_match_current_answers(store: Store) -> None:
    store.add_user(7, "investigator", "Dr V", actor="test")
    sid = store.create_screening("CV-1", "acse", 1, "0" * 64, 7, "age").id
    assert sid is not None
    with store.screening_tx(sid) as tx:
        tx.record_answer("age", "45", 45, None, 7)
        tx.record_answer("anc", "1500/mm3", {"quantity": 1.5, "unit": "g_l"}, "g_l", 7)
        tx.record_answer("age", "54", 54, None, 7, reason="typo")
    with store.screening_tx(sid) as tx:
        values = tx.current_values()
        records = tx.current_answers()
    assert values == {q: (r.raw, r.value_json) for q, r in records.items()}
    assert values["age"] == ("54", 54)
