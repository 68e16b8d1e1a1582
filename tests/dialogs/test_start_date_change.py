"""Moving the planned start date before dates already recorded: those answers are asked again.

A date after the planned start is an input error (the spec's ``gap``).  The parser refuses
one as it is typed, but changing the planned start afterwards can turn recorded dates into
such errors.  These transcripts (the eligible sarcoma patient, planned start 01/12/2026)
check that the investigator is told which answers and is asked them again, one after the
other, and that the dialog still always moves forward.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest

from dialogs.conversation import Conversation
from dialogs.engine import Engine, Step
from dialogs.machine import COMPLETE
from dialogs.protocol import Protocol
from tests.fixtures import ACSE_TODAY, typed_on

RECORD = typed_on(ACSE_TODAY)  # planned start 01/12/2026
START = "planned_start_date"
SYSTEMIC = "last_systemic_therapy_date"  # 20/10/2026 in the record
PREGNANCY_TEST = "pregnancy_test_date"  # 29/11/2026
LABS = "lab_date"  # 24/11/2026


@pytest.fixture(scope="module")
def engine(acse_protocol: Protocol) -> Engine:
    return Engine(acse_protocol, clock=lambda: ACSE_TODAY)


@pytest.fixture
def conv(engine: Engine) -> Iterator[Conversation]:
    conv = engine.start("en", skip_chat_only=True)
    try:
        yield conv
    finally:
        engine.release(conv)


def asked(engine: Engine, conv: Conversation) -> str:
    """The question the investigator sees now."""
    prompt = engine.prompt(conv)
    return COMPLETE if prompt is None else prompt.question_id


def say(engine: Engine, conv: Conversation, text: str) -> Step:
    step = engine.answer(conv, text)
    assert step.accepted, (conv.state, text, step.error)
    return step


def answer_record_through(engine: Engine, conv: Conversation, last: str) -> None:
    """Answer the record's values as the engine asks, up to and including ``last``."""
    while True:
        qid = asked(engine, conv)
        say(engine, conv, RECORD[qid])
        if qid == last:
            return


def answer_record_to_the_end(engine: Engine, conv: Conversation) -> None:
    """The whole record, as ``evaluate`` feeds it (a question it lacks is "unknown")."""
    while (qid := asked(engine, conv)) != COMPLETE:
        say(engine, conv, RECORD.get(qid, "unknown"))


def back_to(engine: Engine, conv: Conversation, question_id: str) -> None:
    """/back, as many times as it takes."""
    while conv.state != question_id:
        assert engine.back(conv) is not None, f"/back never reached {question_id}"


def keep(conv: Conversation) -> None:
    """The chat's "Keep" button: advance with the answer already recorded, not re-parsed."""
    conv.trigger("advance", answer=conv.answers[conv.state])


def test_moving_the_start_before_a_recorded_date_asks_that_date_again(
    engine: Engine, conv: Conversation
) -> None:
    # QA's transcript: planned start 01/12/2026, last systemic therapy 20/10/2026.
    answer_record_through(engine, conv, "toxicity_grade")
    assert asked(engine, conv) == "last_radiotherapy_date"
    back_to(engine, conv, START)

    step = say(engine, conv, "15/10/2026")

    assert asked(engine, conv) == SYSTEMIC  # not last_radiotherapy_date, silently
    assert step.invalidated == (SYSTEMIC,)
    assert step.warnings == (
        # Today is 30/11/2026 here.
        "The planned start date (15/10/2026) is in the past: please check it (a mistyped year?).",
        "The new planned start date (15/10/2026) makes these answers invalid; please answer "
        "them again: Date of the last systemic anti-cancer treatment.",
    )
    prompt = engine.prompt(conv)
    assert prompt is not None and prompt.current == "20/10/2026"
    # The old date is still refused against the new start.
    refused = engine.answer(conv, "20/10/2026")
    assert not refused.accepted
    assert refused.error == (
        "20/10/2026 is after the planned start date (15/10/2026): please check it."
    )

    step = say(engine, conv, "01/09/2026")

    assert step.notices == ("Last systemic therapy 44 days before the planned start (at least 21)",)
    assert asked(engine, conv) == "last_radiotherapy_date"  # where the screening had got to
    assert conv.resolution.invalid == {}


def test_each_invalidated_date_is_asked_in_turn_then_the_dialog_resumes(
    engine: Engine, conv: Conversation
) -> None:
    answer_record_through(engine, conv, LABS)
    assert asked(engine, conv) == "anc"
    back_to(engine, conv, START)

    step = say(engine, conv, "15/10/2026")

    assert step.invalidated == (SYSTEMIC, PREGNANCY_TEST, LABS)
    assert step.warnings[-1] == (
        "The new planned start date (15/10/2026) makes these answers invalid; please answer "
        "them again: Date of the last systemic anti-cancer treatment; Date of that pregnancy "
        "test; Date of the blood tests below."
    )
    assert conv.resolution.pending[:3] == (SYSTEMIC, PREGNANCY_TEST, LABS)
    assert asked(engine, conv) == SYSTEMIC
    say(engine, conv, "01/09/2026")
    assert asked(engine, conv) == PREGNANCY_TEST
    say(engine, conv, "14/10/2026")
    assert asked(engine, conv) == LABS
    say(engine, conv, "10/10/2026")
    assert asked(engine, conv) == "anc"
    assert conv.resolution.invalid == {}
    assert SYSTEMIC not in conv.resolution.pending


def test_keeping_an_invalid_answer_moves_on_and_leaves_it_to_document(
    engine: Engine, conv: Conversation
) -> None:
    answer_record_through(engine, conv, LABS)
    back_to(engine, conv, START)
    say(engine, conv, "15/10/2026")
    assert asked(engine, conv) == SYSTEMIC

    keep(conv)

    assert asked(engine, conv) == PREGNANCY_TEST  # on to the next invalid one, no loop
    keep(conv)
    assert asked(engine, conv) == LABS
    keep(conv)
    assert asked(engine, conv) == "anc"
    # Still invalid: listed to document, and the criterion says why it is unknown.
    evaluation = engine.evaluate(conv)
    assert evaluation.pending[:3] == (SYSTEMIC, PREGNANCY_TEST, LABS)
    i07 = evaluation.results["I07"]
    assert i07.status == "unknown"
    assert i07.reason.endswith(
        " — date after the planned start, to answer again: "
        "Date of the last systemic anti-cancer treatment"
    )
    assert "not answered yet" not in i07.reason
    assert i07.open_questions == (SYSTEMIC,)


def test_keeping_the_last_invalid_answer_completes_with_it_still_pending(
    engine: Engine, conv: Conversation
) -> None:
    answer_record_to_the_end(engine, conv)
    engine.goto(conv, START)
    say(engine, conv, "28/11/2026")  # only the pregnancy test (29/11) is after it
    assert asked(engine, conv) == PREGNANCY_TEST

    keep(conv)

    assert conv.state == COMPLETE
    evaluation = engine.evaluate(conv)
    assert evaluation.verdict == "incomplete"
    assert evaluation.pending == (PREGNANCY_TEST,)
    assert evaluation.results["I16"].status == "unknown"


def test_back_from_an_invalidated_question_then_forward_asks_it_again(
    engine: Engine, conv: Conversation
) -> None:
    answer_record_through(engine, conv, "toxicity_grade")
    back_to(engine, conv, START)
    say(engine, conv, "15/10/2026")
    assert asked(engine, conv) == SYSTEMIC

    step = engine.back(conv)

    assert step is not None and step.state == "investigator_concern"
    say(engine, conv, "no")
    assert asked(engine, conv) == SYSTEMIC  # still waiting, not skipped as answered
    assert engine.back(conv) is not None
    keep(conv)
    assert asked(engine, conv) == SYSTEMIC


def test_moving_the_start_later_invalidates_nothing_and_says_nothing(
    engine: Engine, conv: Conversation
) -> None:
    answer_record_through(engine, conv, "toxicity_grade")
    back_to(engine, conv, START)

    step = say(engine, conv, "15/12/2026")

    assert step.invalidated == () and step.notices == () and step.warnings == ()
    assert asked(engine, conv) == "last_radiotherapy_date"


def test_the_notice_is_in_the_investigators_language(engine: Engine) -> None:
    conv = engine.start("fr", skip_chat_only=True)
    try:
        answer_record_through(engine, conv, LABS)
        back_to(engine, conv, START)

        step = say(engine, conv, "15/10/2026")

        assert step.warnings[-1] == (
            "La nouvelle date de début prévue (15/10/2026) rend ces réponses invalides ; "
            "merci d'y répondre à nouveau : Date du dernier traitement anticancéreux "
            "systémique; Date de ce test de grossesse; Date du bilan biologique ci-dessous."
        )
    finally:
        engine.release(conv)


def test_a_question_that_applies_again_with_a_date_after_the_start_is_asked_again(
    engine: Engine, conv: Conversation
) -> None:
    answer_record_through(engine, conv, PREGNANCY_TEST)  # 29/11/2026
    back_to(engine, conv, "pregnancy_test_negative")
    say(engine, conv, "no")  # the test date no longer applies, but stays recorded
    assert asked(engine, conv) == "breastfeeding"
    back_to(engine, conv, START)
    step = say(engine, conv, "28/11/2026")
    assert step.invalidated == ()  # nothing that applies is after 28/11
    assert asked(engine, conv) == "breastfeeding"
    back_to(engine, conv, "pregnancy_test_negative")

    step = say(engine, conv, "yes")

    assert asked(engine, conv) == PREGNANCY_TEST
    assert step.invalidated == (PREGNANCY_TEST,)
    assert step.warnings == (
        "These answers are after the planned start date (28/11/2026); please answer them "
        "again: Date of that pregnancy test.",
    )


@pytest.mark.parametrize("seed", range(12))
def test_moving_the_start_anywhere_then_keeping_or_answering_always_moves_forward(
    engine: Engine, acse_protocol: Protocol, seed: int
) -> None:
    """However far back the start moves, each Keep or new answer moves to a later question."""
    rng = random.Random(seed)
    index = {qid: i for i, qid in enumerate(acse_protocol.order)}
    conv = engine.start("en", skip_chat_only=True)
    try:
        answer_record_to_the_end(engine, conv)
        engine.goto(conv, START)
        start = dt.date(2026, 9, 1) + dt.timedelta(days=rng.randint(0, 91))
        step = say(engine, conv, start.strftime("%d/%m/%Y"))
        assert step.invalidated == tuple(conv.resolution.invalid)
        kept: set[str] = set()
        for _ in range(len(acse_protocol.order)):
            if conv.state == COMPLETE:
                break
            before = conv.state
            if before in conv.resolution.invalid and rng.random() < 0.5:
                keep(conv)
                kept.add(before)
            elif before in conv.resolution.invalid:
                say(engine, conv, "01/01/2026")
            else:
                say(engine, conv, RECORD.get(before, "unknown"))
            assert conv.state == COMPLETE or index[conv.state] > index[before]
        assert conv.state == COMPLETE
        assert set(conv.resolution.invalid) == kept
        assert set(engine.evaluate(conv).pending) == kept
    finally:
        engine.release(conv)


@pytest.mark.parametrize(
    ("typed", "lang", "warning"),
    [
        ("01/12/2026", "en", None),
        ("today", "en", None),
        ("29/11/2026", "en", "The planned start date (29/11/2026) is in the past: please "
         "check it (a mistyped year?)."),
        ("01/12/2025", "fr", "La date de début prévue (01/12/2025) est passée : vérifiez-la "
         "(une erreur d'année ?)."),
    ],
)  # fmt: skip
def test_a_planned_start_in_the_past_is_accepted_with_a_warning(
    engine: Engine, typed: str, lang: str, warning: str | None
) -> None:
    """A past start is allowed (screened after the fact), but in a chat it is mostly a
    mistyped year, and every date of the screening is counted back from it."""
    conv = engine.start(lang, skip_chat_only=True)
    try:
        step = say(engine, conv, typed)
        assert step.accepted and asked(engine, conv) == "cohort"
        assert step.warnings == (() if warning is None else (warning,))
    finally:
        engine.release(conv)
