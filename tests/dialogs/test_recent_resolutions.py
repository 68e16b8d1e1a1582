"""A screening restored for each update reuses the resolution it was released with, but
only while its answers are exactly those: anything else (another worker's answer, a
rolled-back transaction, a coordinator's reopening) walks the protocol again.

Also: the expression evaluator is one simpleeval instance per thread, so evaluations in
two threads (the bot's workers) must not see each other's names or planned start.
"""

from __future__ import annotations

import datetime as dt
import random
import threading

import pytest

import dialogs.engine
from dialogs.checker import CHECK_START, CHECK_TODAY, representative_answers
from dialogs.engine import Engine
from dialogs.expressions import Evaluator
from dialogs.machine import COMPLETE
from dialogs.protocol import Protocol
from dialogs.resolution import resolve
from dialogs.values import UNKNOWN, Answer

SID = 41


@pytest.fixture
def engine(acse_protocol: Protocol) -> Engine:
    return Engine(acse_protocol, clock=lambda: CHECK_TODAY)


def _answered(engine: Engine, *texts: str) -> tuple[str, dict[str, Answer]]:
    """State and answers after typing ``texts`` from the first recorded question on."""
    with engine.attached(engine.protocol.order[1], {}, "en") as conv:
        for text in texts:
            assert engine.answer(conv, text).accepted, (conv.state, text)
        return conv.state, dict(conv.answers)


SARCOMA = (CHECK_START.isoformat(), "sarcoma")


def test_the_next_update_reuses_the_resolution_it_was_released_with(engine: Engine) -> None:
    state, answers = _answered(engine, *SARCOMA, "yes")
    with engine.attached(state, answers, "en", SID) as conv:
        engine.answer(conv, "yes")
        released = conv.resolution
        state, answers = conv.state, dict(conv.answers)
    with engine.attached(state, answers, "en", SID) as again:
        assert again.resolution is released


@pytest.mark.parametrize("change", ["other answer", "answer dropped", "answer added"])
def test_other_answers_than_released_are_resolved_again(engine: Engine, change: str) -> None:
    state, answers = _answered(engine, *SARCOMA, "yes")
    with engine.attached(state, answers, "en", SID) as conv:
        released = conv.resolution
    # What another worker, a rollback or a reopening could leave in the database.
    stored = dict(answers)
    if change == "other answer":
        stored["cohort"] = Answer("cohort", "ovarian", "ovarian")
    elif change == "answer dropped":
        del stored["histology_confirmed"]  # the answer before the current question
    else:
        stored[state] = Answer(state, "?", UNKNOWN)
    with engine.attached(state, stored, "en", SID) as again:
        assert again.resolution is not released
        assert again.resolution == resolve(engine.protocol, stored)


def test_another_key_does_not_reuse_it(engine: Engine) -> None:
    state, answers = _answered(engine, *SARCOMA)
    with engine.attached(state, answers, "en", SID) as conv:
        released = conv.resolution
    with engine.attached(state, answers, "en", SID + 1) as other:
        assert other.resolution is not released


def test_an_update_that_failed_is_not_remembered(engine: Engine) -> None:
    state, answers = _answered(engine, *SARCOMA)
    with engine.attached(state, answers, "en", SID) as conv:
        first = conv.resolution
    with pytest.raises(RuntimeError), engine.attached(state, answers, "en", SID) as conv:
        engine.answer(conv, "yes")  # recorded in the conversation, then the caller fails
        raise RuntimeError("the transaction rolls back")
    with engine.attached(state, answers, "en", SID) as again:
        assert again.resolution is first
    assert conv not in engine.machine.models


def test_the_oldest_conversations_are_forgotten(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dialogs.engine, "RECENT_CONVERSATIONS", 3)
    state, answers = _answered(engine, *SARCOMA)
    kept = {}
    for sid in range(5):
        with engine.attached(state, answers, "en", sid) as conv:
            kept[sid] = conv.resolution
    for sid in reversed(range(5)):  # newest first: a miss stores, and evicts the oldest
        with engine.attached(state, answers, "en", sid) as conv:
            assert (conv.resolution is kept[sid]) == (sid >= 2), sid


def test_random_screenings_restored_per_update_agree_with_a_full_walk(
    acse_protocol: Protocol,
) -> None:
    """Updates of several screenings interleaved, each restored from 'storage' (its
    answers) with its key; now and then the stored answers change behind the engine's
    back.  Every restored resolution must equal a full walk of the stored answers."""
    engine = Engine(acse_protocol, clock=lambda: CHECK_TODAY)
    choices = representative_answers(acse_protocol, CHECK_START, CHECK_TODAY)
    rng = random.Random(20261124)
    first = acse_protocol.order[1]
    stored: dict[int, tuple[str, dict[str, Answer]]] = {sid: (first, {}) for sid in range(6)}
    reused = recomputed = 0
    for _ in range(1500):
        sid = rng.randrange(6)
        state, answers = stored[sid]
        if rng.random() < 0.1 and answers:
            # Behind the engine's back: another worker changed or removed an answer.
            qid = rng.choice(sorted(answers))
            if rng.random() < 0.5:
                del answers[qid]
            else:
                answers[qid] = rng.choice(choices[qid])
        before = engine._recent.get(sid)
        with engine.attached(state, answers, "en", sid) as conv:
            assert conv.resolution == resolve(acse_protocol, answers)
            if before is not None and conv.resolution is before[1]:
                reused += 1
            else:
                recomputed += 1
            if conv.state == COMPLETE:
                stored[sid] = (first, {})  # a new screening under that key
                continue
            qid = conv.state
            if engine.answer(conv, rng.choice(choices[qid]).raw).accepted:
                stored[sid] = (conv.state, dict(conv.answers))
    assert reused > 1000 and recomputed > 100, (reused, recomputed)


def test_evaluations_in_two_threads_keep_their_own_names_and_start() -> None:
    errors: list[str] = []
    barrier = threading.Barrier(2)

    def work(offset: int) -> None:
        start = dt.date(2026, 1, 1) + dt.timedelta(days=offset)
        ev = Evaluator({"x": offset, "d": dt.date(2026, 1, 1)}, start)
        barrier.wait()
        for _ in range(3000):
            got = (ev.value("x + 1"), ev.value("gap(d)"), ev.truth("x > 5").value)
            if got != (offset + 1, offset, offset > 5):
                errors.append(f"thread {offset}: {got}")
                return

    threads = [threading.Thread(target=work, args=(n,)) for n in (3, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_evaluators_in_one_thread_do_not_share_names_or_start() -> None:
    day = dt.date(2026, 1, 1)
    early = Evaluator({"x": 1, "d": day}, dt.date(2026, 1, 10))
    late = Evaluator({"x": 2, "d": day}, None)
    assert early.value("x") == 1 and late.value("x") == 2 and early.value("x") == 1
    assert early.value("gap(d)") == 9
    assert late.value("gap(d)") is UNKNOWN  # no planned start yet
    assert early.value("gap(d)") == 9
