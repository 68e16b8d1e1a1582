"""A conversation's partial re-resolution must agree with resolving from scratch.

After an answer changes, the conversation re-settles only that question and the questions
whose 'asked when' can follow it.  These walks through the real AcSé protocol answer,
go back and answer differently, move the planned start (which makes earlier dates
invalid) and forget answers, and after every step compare the conversation's resolution
with a full ``resolve`` of its answers.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

import pytest

import dialogs.conversation
import dialogs.resolution
from dialogs.checker import CHECK_START, CHECK_TODAY, representative_answers
from dialogs.conversation import Conversation
from dialogs.engine import Engine
from dialogs.machine import COMPLETE
from dialogs.protocol import Protocol
from dialogs.resolution import Resolution, resolve, update
from dialogs.values import Answer, to_json

START = "planned_start_date"
# Planned starts around the one the representative answers count back from: an earlier
# one turns some answered dates into 'after start' (invalid), later ones move every gap().
STARTS = tuple(CHECK_START + dt.timedelta(days=d) for d in (-40, -15, -1, 0, 0, 3, 30))


def _same(conv: Conversation, protocol: Protocol, what: str) -> None:
    got = conv.resolution
    want = resolve(protocol, conv.answers)
    context = (what, {k: to_json(a.value) for k, a in conv.answers.items()})
    assert list(got.names.items()) == list(want.names.items()), context
    assert list(got.applies.items()) == list(want.applies.items()), context
    assert got.pending == want.pending, context
    assert list(got.invalid.items()) == list(want.invalid.items()), context
    assert got.start == want.start, context


def _answer(engine: Engine, conv: Conversation, text: str) -> bool:
    qid = conv.state
    step = engine.answer(conv, text)
    _same(conv, engine.protocol, f"answer {qid}={text!r}")
    return step.accepted


def _walk(
    engine: Engine, choices: Mapping[str, list[Answer]], rng: random.Random, steps: int
) -> set[str]:
    """One random walk; returns the kinds of move made ('invalid': a date after the start)."""
    protocol = engine.protocol
    made: set[str] = set()
    conv = engine.start("en", skip_chat_only=True)
    try:
        for _ in range(steps):
            roll = rng.random()
            answered = [qid for qid in protocol.order if qid in conv.answers]
            if conv.state != COMPLETE and roll < 0.7:
                qid = conv.state
                text = (
                    rng.choice(STARTS).isoformat() if qid == START else rng.choice(choices[qid]).raw
                )
                if _answer(engine, conv, text):
                    made.add("answer")
            elif roll < 0.82:
                if engine.back(conv) is not None:
                    _same(conv, protocol, "back")
                    made.add("back")
            elif roll < 0.9 and START in conv.answers:
                engine.goto(conv, START)
                if _answer(engine, conv, rng.choice(STARTS).isoformat()):
                    made.add("start")
            elif roll < 0.96 and answered:
                qid = rng.choice(answered)
                if conv.applies(qid) is True and qid != START:
                    engine.goto(conv, qid)
                    if _answer(engine, conv, rng.choice(choices[qid]).raw):
                        made.add("change")
            elif answered:
                qid = rng.choice(answered)
                conv.forget(qid)
                _same(conv, protocol, f"forget {qid}")
                made.add("forget")
                if conv.state == COMPLETE or conv.applies(conv.state) is not True:
                    # Forgetting can leave the saved state on a question that no longer
                    # applies; reopen where a front end would (the first pending one).
                    pending = conv.resolution.pending
                    engine.machine.set_state(pending[0] if pending else COMPLETE, model=conv)
            if conv.resolution.invalid:
                made.add("invalid")
    finally:
        engine.release(conv)
    return made


def test_partial_resolution_matches_full_resolve_on_random_walks(
    acse_protocol: Protocol, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_walks = 0
    updates = 0

    def counted_resolve(protocol: Protocol, answers: Mapping[str, Answer]) -> Resolution:
        nonlocal full_walks
        full_walks += 1
        return resolve(protocol, answers)

    def counted_update(*args: Any) -> Resolution:
        nonlocal updates
        updates += 1
        return update(*args)

    engine = Engine(acse_protocol, clock=lambda: CHECK_TODAY)
    choices = representative_answers(acse_protocol, CHECK_START, CHECK_TODAY)
    rng = random.Random(20261124)
    made: set[str] = set()
    # Full walks are counted only inside the conversation (the reference calls the
    # original): most updates must take the partial path, or this tests nothing new.
    monkeypatch.setattr(dialogs.conversation, "resolve", counted_resolve)
    monkeypatch.setattr(dialogs.conversation, "update", counted_update)
    monkeypatch.setattr(dialogs.resolution, "resolve", counted_resolve)
    for _ in range(80):
        made |= _walk(engine, choices, rng, steps=90)
    assert made == {"answer", "back", "start", "change", "forget", "invalid"}
    assert updates > 80 * 40
    assert full_walks < updates / 4


def test_when_dependents_follow_asked_when_chains(acse_protocol: Protocol) -> None:
    deps = acse_protocol.when_dependents
    assert deps is not None
    # sex -> childbearing_potential -> pregnancy_test_negative -> pregnancy_test_date
    assert {"sex", "childbearing_potential", "pregnancy_test_date"} <= deps["sex"]
    assert deps["age"] == {"age"}


def test_a_when_reading_a_later_question_has_no_dependents(acse_protocol: Protocol) -> None:
    # Validation refuses such a file; a model built without it must not take the partial
    # path, as a full walk is what decides what that 'when' sees.
    data = acse_protocol.model_dump(by_alias=True)
    order = list(data["order"])
    order.remove("childbearing_potential")
    order.insert(order.index("sex"), "childbearing_potential")
    forward = Protocol.model_validate({**data, "order": tuple(order)})
    assert forward.when_dependents is None
