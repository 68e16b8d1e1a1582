"""The engine's shortcut for 'which criteria just failed' must agree with full evaluations.

After each answer the engine re-evaluates only the criteria the answered question can
reach (through rules, computed values and 'asked when' chains).  These walks compare that
with evaluating every criterion before and after, on the real AcSé protocol.
"""

from __future__ import annotations

import datetime as dt
import random

from dialogs.checker import CHECK_START, CHECK_TODAY, representative_answers
from dialogs.engine import Engine
from dialogs.protocol import Protocol
from dialogs.values import to_json


def test_newly_failed_matches_full_evaluation_on_random_walks(acse_protocol: Protocol) -> None:
    engine = Engine(acse_protocol, clock=lambda: CHECK_TODAY)
    choices = representative_answers(acse_protocol, CHECK_START, CHECK_TODAY)
    rng = random.Random(20261123)
    compared = 0
    for _ in range(60):
        conv = engine.start("en", skip_chat_only=True)
        try:
            while (prompt := engine.prompt(conv)) is not None:
                qid = prompt.question_id
                if qid == "planned_start_date":
                    text = CHECK_START.isoformat()
                else:
                    options = choices[qid]
                    text = rng.choice(options).raw
                before = {r.id for r in engine.evaluate(conv).failed}
                step = engine.answer(conv, text)
                assert step.accepted, (qid, text, step.error)
                after = {r.id for r in engine.evaluate(conv).failed}
                assert {r.id for r in step.newly_failed} == after - before, (
                    qid,
                    text,
                    {k: to_json(a.value) for k, a in conv.answers.items()},
                )
                compared += 1
        finally:
            engine.release(conv)
    assert compared > 60 * 30
    assert isinstance(CHECK_START, dt.date)
