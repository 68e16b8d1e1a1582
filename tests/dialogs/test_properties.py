"""Property-based tests of the engine on the AcSé protocol (hypothesis).

Valid answers are drawn from the same representative answers ``protocol check`` explores
(every choice, yes/no/unknown, values around each threshold, special words), so the
properties cover the branches that matter rather than random numbers far from any rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs.checker import CHECK_TODAY, representative_answers
from dialogs.conversation import Conversation
from dialogs.engine import Engine
from dialogs.machine import COMPLETE
from dialogs.protocol import PROTOCOL_DIR, load_protocol

ACSE = PROTOCOL_DIR / "acse-pembrolizumab-v1.yaml"
PROTOCOL = load_protocol(ACSE)
ENGINE = Engine(PROTOCOL, clock=lambda: CHECK_TODAY)
REPS = {qid: [a.raw for a in answers] for qid, answers in representative_answers(PROTOCOL).items()}
VERDICTS = {"eligible", "not_eligible", "incomplete"}

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Texts an investigator might plausibly mistype, mixed with anything at all.
NEAR_MISSES = st.sampled_from(
    [
        "",
        " ",
        "yes please",
        "oui!",
        "12,5,3",
        "1.5 x",
        "1.5 LSN",
        "10 furlongs",
        "-3",
        "31/02/2026",
        "2026-13-01",
        "02/30/2026",
        "today",
        "aujourd'hui",
        "none",
        "ongoing",
        "∞",
        "1e309",
        "NaN",
        "nan mg/dL",
        "0",
        "999999999999999999999",
        "7",
        "3.",
        ",5",
        "unknown",
        "inconnu",
        "ne sais pas",
        "🙂",
        "None",
        "null",
        "{}",
        "'; drop table",
    ]
)
ANY_TEXT = st.one_of(NEAR_MISSES, st.text(max_size=40))


@contextmanager
def conversation() -> Iterator[Conversation]:
    conv = ENGINE.start("en", skip_chat_only=True)
    try:
        yield conv
    finally:
        ENGINE.release(conv)


def walk(conv: Conversation, data: st.DataObject, steps: int) -> None:
    """Answer up to ``steps`` questions with drawn valid answers (stops at complete)."""
    for _ in range(steps):
        if conv.state == COMPLETE:
            return
        text = data.draw(st.sampled_from(REPS[conv.state]), label=conv.state)
        step = ENGINE.answer(conv, text)
        assert step.accepted, (conv.state, text, step.error)


@SETTINGS
@given(data=st.data())
def test_any_sequence_of_valid_answers_ends_in_a_verdict(data: st.DataObject) -> None:
    with conversation() as conv:
        walk(conv, data, len(PROTOCOL.order) + 1)
        assert conv.state == COMPLETE
        assert ENGINE.prompt(conv) is None
        evaluation = ENGINE.evaluate(conv)
        assert evaluation.verdict in VERDICTS
        assert evaluation.pending == ()
        assert all(r.reason for r in evaluation.results.values())


@SETTINGS
@given(data=st.data(), prefix=st.integers(0, len(PROTOCOL.order)), text=ANY_TEXT)
def test_any_text_to_any_question_answers_or_errors_without_moving(
    data: st.DataObject, prefix: int, text: str
) -> None:
    with conversation() as conv:
        walk(conv, data, prefix)
        if conv.state == COMPLETE:
            return
        before_state, before_answers = conv.state, dict(conv.answers)
        step = ENGINE.answer(conv, text)
        if step.accepted:
            assert step.answer is not None and step.answer.question_id == before_state
            assert conv.state != before_state
        else:
            assert isinstance(step.error, str) and step.error.strip()
            assert conv.state == before_state
            assert conv.answers == before_answers


@SETTINGS
@given(data=st.data(), prefix=st.integers(0, len(PROTOCOL.order) - 2))
def test_back_then_the_same_answer_returns_to_the_same_state(
    data: st.DataObject, prefix: int
) -> None:
    with conversation() as conv:
        walk(conv, data, prefix)
        if conv.state == COMPLETE:
            return
        question = conv.state
        text = data.draw(st.sampled_from(REPS[question]), label="answer")
        assert ENGINE.answer(conv, text).accepted
        after_state, after_answers = conv.state, dict(conv.answers)

        back = ENGINE.back(conv)
        assert back is not None and conv.state == question

        assert ENGINE.answer(conv, text).accepted
        assert conv.state == after_state
        assert conv.answers == after_answers


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_question_has_a_prompt_in_each_language(lang: str) -> None:
    conv = ENGINE.restore(PROTOCOL.order[1], {}, lang)
    try:
        for qid in PROTOCOL.order:
            ENGINE.machine.set_state(qid, model=conv)
            prompt = ENGINE.prompt(conv)
            assert prompt is not None and prompt.text.strip(), qid
            assert ENGINE.expected(qid, lang).strip()
    finally:
        ENGINE.release(conv)
