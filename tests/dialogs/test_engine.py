"""Engine behaviour on a small fixture protocol: transcripts of answers and what comes back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dialogs.engine import Engine
from dialogs.errors import ConversationError
from dialogs.machine import COMPLETE
from dialogs.protocol import load_protocol
from dialogs.registry import ProtocolRegistry
from dialogs.values import UNKNOWN, from_json, to_json

MINI = Path(__file__).parent / "fixtures" / "mini.yaml"
TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_protocol(MINI), clock=lambda: TODAY)


def run(engine: Engine, answers: list[str], lang: str = "en"):  # type: ignore[no-untyped-def]
    conv = engine.start(lang)
    for text in answers:
        step = engine.answer(conv, text)
        assert step.accepted, (text, step.error)
    return conv


def test_branching_skips_questions_that_do_not_apply(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha"])
    assert conv.state == "age"  # 'subtype' is asked only for beta
    conv2 = run(engine, ["PEM-002", "today", "beta"])
    assert conv2.state == "subtype"


def test_bad_answer_is_a_value_and_the_state_does_not_move(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha"])
    step = engine.answer(conv, "seventeen")
    assert not step.accepted
    assert step.error == "Please type a whole number between 0 and 120."
    assert conv.state == "age"
    assert "age" not in conv.answers


def test_french_error_message(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "aujourd'hui", "2", "non"], lang="fr")
    step = engine.answer(conv, "dix-sept")
    assert step.error == "Merci de saisir un nombre entier entre 0 et 120."


def test_required_question_refuses_unknown(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today"])
    step = engine.answer(conv, "unknown")
    assert not step.accepted and "required" in (step.error or "")


def test_first_fail_is_reported_once(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha"])
    step = engine.answer(conv, "17")
    assert [r.id for r in step.newly_failed] == ["I01"]
    step = engine.answer(conv, "none")
    assert step.newly_failed == ()


def test_computed_value_is_announced_with_its_inputs(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha"])
    step = engine.answer(conv, "40")
    assert step.notices == ("twice 40 = 80",)


def test_temporal_fail_states_the_earliest_start(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "2026-11-30", "alpha", "40", "2026-11-20"])
    result = engine.evaluate(conv).results["I02"]
    assert result.status == "fail"
    assert result.earliest_start == dt.date(2026, 12, 11)
    assert "11/12/2026" in result.reason


def test_gap_boundary_21_days_passes(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "2026-11-30", "alpha", "40", "2026-11-09"])
    assert engine.evaluate(conv).results["I02"].status == "pass"


def test_date_after_planned_start_is_an_input_error(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "2026-11-30", "alpha", "40"])
    step = engine.answer(conv, "01/12/2026")
    assert not step.accepted
    assert "after the planned start date (30/11/2026)" in (step.error or "")


def test_stale_labs_make_the_criterion_unknown_with_the_reason(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "2026-11-30", "alpha", "40", "none", "2026-11-15", "1.5 G/L"])
    assert engine.evaluate(conv).results["I03"].status == "unknown"
    assert engine.evaluate(conv).results["I03"].reason == "labs too old"
    conv = run(engine, ["PEM-001", "2026-11-30", "alpha", "40", "none", "2026-11-16", "1.5 G/L"])
    assert engine.evaluate(conv).results["I03"].status == "pass"


def test_unknown_answer_makes_the_verdict_incomplete(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha", "40", "none", "today", "unknown"])
    assert conv.state == COMPLETE  # cd4's condition is unknown: skipped
    ev = engine.evaluate(conv)
    assert ev.results["I03"].status == "unknown"
    # Named by its label; CD4, skipped because its condition reads the ANC, is not named
    # as if it had been answered "unknown": the ANC decides whether it is asked at all.
    assert ev.results["I03"].reason == "ANC ?, CD4 ? — unknown: ANC"
    assert ev.results["I03"].open_questions == ("anc",)
    assert ev.verdict == "incomplete"


def test_eligible_transcript(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha", "40", "none", "today", "1500/mm3"])
    assert conv.state == COMPLETE
    ev = engine.evaluate(conv)
    assert ev.verdict == "eligible"
    assert ev.statuses() == {"I01": "pass", "I02": "pass", "I03": "pass", "N01": "pass"}


def test_back_then_changed_answer_re_evaluates_what_applies(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha", "40", "none", "today", "800/mm3"])
    assert conv.state == "cd4"
    assert engine.back(conv) is not None
    assert conv.state == "anc"
    step = engine.answer(conv, "1500/mm3")
    assert step.state == COMPLETE  # cd4 no longer applies
    assert engine.evaluate(conv).results["I03"].status == "pass"


def test_back_to_an_early_answer_then_on_to_the_first_new_question(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha", "40", "none"])
    for _ in range(3):
        engine.back(conv)
    assert conv.state == "cohort"
    step = engine.answer(conv, "beta")
    assert step.state == "subtype"  # newly applicable
    engine.answer(conv, "no")
    assert conv.state == "lab_date"  # age and last dose were already answered


def test_back_never_reaches_the_chat_only_code(engine: Engine) -> None:
    conv = run(engine, ["PEM-001"])
    assert engine.back(conv) is None
    assert conv.state == "planned_start_date"


def test_restore_by_state_name_shares_one_machine(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha"])
    saved = {k: (a.raw, to_json(a.value)) for k, a in conv.answers.items()}
    engine.release(conv)
    before = len(engine.machine.models)
    from dialogs.values import Answer

    answers = {k: Answer(k, raw, from_json(v)) for k, (raw, v) in saved.items()}
    with engine.attached("age", answers, "en") as again:
        assert len(engine.machine.models) == before + 1
        assert engine.answer(again, "40").state == "last_dose_date"
    assert len(engine.machine.models) == before


def test_restore_refuses_an_unknown_state(engine: Engine) -> None:
    with pytest.raises(ConversationError):
        engine.restore("no_such_question", {}, "en")


def test_goto_refuses_a_question_that_does_not_apply(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today", "alpha", "40"])
    with pytest.raises(ConversationError):
        engine.goto(conv, "subtype")
    engine.goto(conv, "cohort")
    assert conv.state == "cohort"


def test_prompt_offers_buttons_and_progress(engine: Engine) -> None:
    conv = run(engine, ["PEM-001", "today"], lang="fr")
    prompt = engine.prompt(conv)
    assert prompt is not None
    assert prompt.text == "Cohorte"
    assert prompt.choices == (("alpha", "Alpha"), ("beta", "Bêta"))
    assert prompt.allows_unknown is False
    assert (prompt.position, prompt.total) == (2, 6)


def test_value_round_trip_keeps_quantities_and_dates() -> None:
    from dialogs.values import Quantity

    q = Quantity(1.5, "g_l", "cells", 1500, "/mm³")
    back = from_json(to_json(q))
    assert isinstance(back, Quantity) and back == 1.5 and back.input_unit == "/mm³"
    assert from_json(to_json(dt.date(2026, 1, 2))) == dt.date(2026, 1, 2)
    assert from_json(to_json(UNKNOWN)) is UNKNOWN


def test_registry_keeps_each_version_and_refuses_a_changed_file(tmp_path: Path) -> None:
    text = MINI.read_text(encoding="utf-8")
    (tmp_path / "mini-v1.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "mini-v2.yaml").write_text(
        text.replace("version: 1", "version: 2"), encoding="utf-8"
    )
    reg = ProtocolRegistry.from_directory(tmp_path)
    assert reg.latest("mini").protocol.version == 2
    v1 = reg.engine_for("mini", 1)
    assert v1.protocol.version == 1
    with pytest.raises(Exception, match="sha256 differs"):
        reg.engine_for("mini", 1, "0" * 64)
