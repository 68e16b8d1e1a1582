"""A coordinator's query points at an answer by its number, as /review and the prompt show it.

Coordinators know answers by label and position, never by question id.  The query prompt
lists the answers behind the failing, unknown and flagged criteria, numbered as in
/review ("#3 Age: 16"); a reply starting "#3" (or "3:") points at that answer.  The id
form ("age: …") keeps working.  A number that is no answer of the screening, or a
pointer with no question after it, sends nothing: the prompt comes again, saying why,
with the question kept to copy.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot import coordinator as coordinator_module
from bot.coordinator import MAX_MESSAGE, outbox_job
from dialogs.engine import Engine
from dialogs.protocol import load_protocol
from dialogs.registry import ProtocolRegistry
from storage import Store
from storage.coordination import MessageKind, messages, reviews
from tests.coordinator.conftest import (
    COORDINATOR,
    INVESTIGATOR,
    MINI,
    TODAY,
    answer,
    complete,
)

FRENCH_COORDINATOR = 558
# The mini protocol's answers in /review order: #1 planned start, #2 cohort, #3 age,
# #4 last dose, #5 lab date, #6 ANC.


def _summary(bot: Any, chat: int) -> dict[str, Any]:
    return [m for m in bot.request.messages_to(chat) if "📋" in m["text"]][-1]


def _last_markup(bot: Any, chat: int) -> dict[str, Any]:
    call = [c for c in bot.request.of("sendMessage") if int(c.params["chat_id"]) == chat][-1]
    return dict(call.params["reply_markup"])


def _listed(text: str) -> list[str]:
    """The numbered answers a prompt lists."""
    return [line for line in text.splitlines() if line.startswith("<b>#")]


async def _query(bot: Any, chat: Any, sid: int, revision: int = 1) -> None:
    await chat.press_data(f"c|query|{sid}|{revision}", _summary(bot, chat.user_id))


async def _prompted(
    make_bot: Callable[..., Any],
    store: Store,
    engine: Engine,
    code: str,
    reader: int = COORDINATOR,
    **changes: str,
) -> tuple[Any, Any, int]:
    """A completed screening's summary delivered, and ``reader`` pressing its Query:
    the bot, the reader's chat (the prompt last) and the screening id."""
    bot = await make_bot()
    sid = complete(store, engine, code, **changes)
    await outbox_job(bot.context())
    chat = bot.chat(reader)
    await _query(bot, chat, sid)
    return bot, chat, sid


async def test_the_prompt_lists_the_failing_criterions_answers_numbered_as_in_review(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot, coordinator, sid = await _prompted(make_bot, store, engine, "P-200", age="16")
    prompt = coordinator.texts[-1]
    assert prompt.startswith(f"❓ Query on screening #{sid} (P-200): reply to this message")
    assert "start with its number, e.g. <code>#3 is this the latest value?</code>" in prompt
    assert "Answers behind the failing, unknown or flagged criteria:" in prompt
    assert _listed(prompt) == ["<b>#3</b> Age: 16"]
    assert _last_markup(bot, COORDINATOR) == {
        "force_reply": True,
        "selective": True,
        "input_field_placeholder": "#3 your question",
    }

    await coordinator.send("/review P-200")
    history = "\n".join(coordinator.texts[-2:]).split("Answer history:\n", 1)[1]
    history = history.split("\n\n", 1)[0]  # the reviews and events follow
    assert [line.split(" ", 1)[0] for line in history.splitlines()] == [
        f"<b>#{n}</b>" for n in range(1, 7)
    ]
    assert "<b>#3</b> " in history and history.splitlines()[2].endswith(" Age: 16")


async def test_a_number_points_the_investigator_at_that_answer(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot, coordinator, sid = await _prompted(make_bot, store, engine, "P-201", age="16")

    await coordinator.send("#3 is 16 a typo?", reply_to_last=True)
    assert coordinator.texts[-1] == "❓ Query on P-201 about “Age” sent to the investigator."
    [review] = reviews(store, sid)
    assert (review.question_id, review.comment) == ("age", "is 16 a typo?")

    await outbox_job(bot.context())
    investigator = bot.chat(INVESTIGATOR)
    query = investigator.sent[-1]
    assert query["text"] == (
        "❓ Coordinator Coord C (555) has a question on screening <b>P-201</b> about “Age” "
        "(current answer: 16):\n\nis 16 a typo?\n\n"
        "↪️ Reply to this message to answer the coordinator in words, or press the button "
        "to review the answer."
    )
    await investigator.press_data(query["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    assert store.get_screening(sid).current_state == "age"


@pytest.mark.parametrize(
    ("reply", "question_id", "comment"),
    [
        ("#3 is 16 a typo?", "age", "is 16 a typo?"),
        ("# 3: is 16 a typo?", "age", "is 16 a typo?"),
        ("3: is 16 a typo?", "age", "is 16 a typo?"),
        ("3 : 16 ans, vraiment ?", "age", "16 ans, vraiment ?"),  # French spacing
        ("#5\nis this the latest lab?", "lab_date", "is this the latest lab?"),
        ("age: is 16 a typo?", "age", "is 16 a typo?"),  # the id form, for programs
        ("Age : 16 ans ?", "age", "16 ans ?"),  # an id in any case (phones capitalise)
        ("Note: please check the age", None, "Note: please check the age"),
        ("10:30 tomorrow, call me", None, "10:30 tomorrow, call me"),  # a time, not #10
        ("16 is young", None, "16 is young"),  # a bare number is not a pointer
    ],
)
async def test_the_forms_a_reply_points_with(
    store: Store,
    engine: Engine,
    make_bot: Callable[..., Any],
    reply: str,
    question_id: str | None,
    comment: str,
) -> None:
    _, coordinator, sid = await _prompted(make_bot, store, engine, "P-202", age="16")
    await coordinator.send(reply, reply_to_last=True)
    [review] = reviews(store, sid)
    assert (review.question_id, review.comment) == (question_id, comment)
    assert "sent to the investigator" in coordinator.texts[-1]


async def test_an_earlier_version_of_an_answer_points_at_its_question(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    sid = complete(store, engine, "P-203", age="16")
    await outbox_job(bot.context())
    coordinator = bot.chat(COORDINATOR)
    await coordinator.press_data(f"c|reopen|{sid}|1", _summary(bot, COORDINATOR))
    assert answer(store, engine, sid, {"age": "17"}) == "complete"  # answer #7
    await outbox_job(bot.context())

    await _query(bot, coordinator, sid, revision=2)
    assert _listed(coordinator.texts[-1]) == ["<b>#7</b> Age: 17"]
    await coordinator.send("#3 still under 18?", reply_to_last=True)
    [_, query] = reviews(store, sid)
    assert (query.question_id, query.comment) == ("age", "still under 18?")
    await outbox_job(bot.context())
    assert "about “Age” (current answer: 17)" in bot.chat(INVESTIGATOR).texts[-1]


async def test_a_number_that_is_no_answer_sends_nothing_and_asks_again_keeping_the_question(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot, coordinator, sid = await _prompted(make_bot, store, engine, "P-204", age="16")

    await coordinator.send("#42 is this the latest count?", reply_to_last=True)
    assert reviews(store, sid) == []
    assert messages(store, sid, MessageKind.QUERY) == []
    again = coordinator.texts[-1]
    assert again.startswith(
        "⚠️ P-204 has no answer #42 (its answers are #1 to #6): nothing was sent.\n\n"
        f"❓ Query on screening #{sid} (P-204)"
    )
    assert _listed(again) == ["<b>#3</b> Age: 16"]
    assert again.endswith(
        "Your question, to copy (tap it):\n<code>is this the latest count?</code>"
    )
    call = bot.request.of("sendMessage")[-1]
    assert call.params["reply_markup"]["force_reply"] is True
    assert call.params["reply_parameters"]["message_id"] > 0  # quotes the coordinator's reply

    # The re-prompt is a query prompt: the corrected reply goes through.
    await coordinator.send("#6 is this the latest count?", reply_to_last=True)
    [review] = reviews(store, sid)
    assert (review.question_id, review.comment) == ("anc", "is this the latest count?")
    assert coordinator.texts[-1] == "❓ Query on P-204 about “ANC” sent to the investigator."


async def test_a_french_coordinator_is_asked_again_in_french(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    store.add_user(FRENCH_COORDINATOR, "coordinator", "Coord F", language="fr", actor="test")
    bot, french, sid = await _prompted(
        make_bot, store, engine, "P-205", reader=FRENCH_COORDINATOR, age="16"
    )
    prompt = french.texts[-1]
    assert prompt.startswith(f"❓ Question sur le screening #{sid} (P-205) : répondez")
    assert "commencez par son numéro, p. ex. <code>#3 est-ce la dernière valeur ?</code>" in (
        prompt
    )
    assert "Réponses en cause dans les critères en échec, inconnus ou à vérifier :" in prompt
    assert _listed(prompt) == ["<b>#3</b> Âge : 16"]
    assert _last_markup(bot, FRENCH_COORDINATOR)["input_field_placeholder"] == ("#3 votre question")

    await french.send("#9 16 ans ?", reply_to_last=True)
    assert reviews(store, sid) == []
    again = french.texts[-1]
    assert again.startswith(
        "⚠️ P-205 n'a pas de réponse #9 (ses réponses vont de #1 à #6) : rien n'a été envoyé."
    )
    assert again.endswith("Votre question, à copier (touchez-la) :\n<code>16 ans ?</code>")

    await french.send("#3 16 ans ?", reply_to_last=True)
    assert french.texts[-1] == (
        "❓ Question sur P-205 à propos de « Âge » envoyée à l'investigateur."
    )


async def test_a_pointer_without_a_question_sends_nothing_and_asks_again(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    _, coordinator, sid = await _prompted(make_bot, store, engine, "P-206", age="16")

    await coordinator.send("#3", reply_to_last=True)
    assert reviews(store, sid) == []
    again = coordinator.texts[-1]
    assert again.startswith(
        "⚠️ Nothing was sent: write your question after the answer's number.\n\n❓ Query on"
    )
    assert "to copy" not in again
    await coordinator.send("age:", reply_to_last=True)  # the id form alike
    assert reviews(store, sid) == []
    assert coordinator.texts[-1].startswith("⚠️ Nothing was sent")


async def test_a_long_question_kept_to_copy_stays_within_telegrams_limit(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    bot, coordinator, sid = await _prompted(make_bot, store, engine, "P-207", age="16")

    question = "<é> " * 1000  # escaped, four times as long: &lt;é&gt;
    await coordinator.send(f"#99 {question}", reply_to_last=True)
    again = coordinator.texts[-1]
    assert reviews(store, sid) == []
    assert len(again) <= MAX_MESSAGE
    assert again.startswith("⚠️ P-207 has no answer #99")
    kept = html.unescape(again.rsplit("<code>", 1)[1].removesuffix("…</code>"))
    assert 1000 < len(kept) < len(question) and question.startswith(kept)
    # Cut, the whole question is still in the chat: the re-prompt quotes the reply.
    assert bot.request.of("sendMessage")[-1].params["reply_parameters"]["message_id"] > 0


async def test_an_eligible_screening_lists_no_answers_and_numbers_still_point(
    store: Store, engine: Engine, make_bot: Callable[..., Any]
) -> None:
    _, coordinator, sid = await _prompted(make_bot, store, engine, "P-208")
    prompt = coordinator.texts[-1]
    assert "Answers behind" not in prompt and _listed(prompt) == []
    assert "e.g. <code>#6 is this the latest value?</code>" in prompt  # the latest answer

    await coordinator.send("#6 from which lab?", reply_to_last=True)
    [review] = reviews(store, sid)
    assert (review.question_id, review.comment) == ("anc", "from which lab?")


async def test_an_unknown_criterions_answers_are_listed_at_most_suggested(
    store: Store, engine: Engine, make_bot: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Labs too old: I03 is unknown.
    bot, coordinator, sid = await _prompted(make_bot, store, engine, "P-209", lab_date="01/01/2025")
    # I03 reads the ANC (and CD4, not asked), the lab date, and cohort and age (its
    # not-applicable condition); in the protocol's order.
    assert _listed(coordinator.texts[-1]) == [
        "<b>#2</b> Cohort: Alpha",
        "<b>#3</b> Age: 54",
        "<b>#5</b> Lab date: 01/01/2025",
        "<b>#6</b> ANC: 2 ×10⁹/L",
    ]
    monkeypatch.setattr(coordinator_module, "SUGGESTED", 2)
    await _query(bot, coordinator, sid)
    assert _listed(coordinator.texts[-1]) == ["<b>#2</b> Cohort: Alpha", "<b>#3</b> Age: 54"]


class TestFlagged:
    """A passing criterion flagged for review lists its answers too."""

    @pytest.fixture
    def registry(self, tmp_path: Path) -> ProtocolRegistry:
        text = MINI.read_text(encoding="utf-8").replace(
            'pass: "age >= 18",',
            'pass: "age >= 18", flag: "age >= 90", flag_reason: {en: "very old", fr: "âgé"},',
        )
        flagged = tmp_path / "mini-flagged.yaml"
        flagged.write_text(text, encoding="utf-8")
        return ProtocolRegistry([load_protocol(flagged)], clock=lambda: TODAY)

    async def test_a_flagged_criterions_answers_are_listed(
        self, store: Store, engine: Engine, make_bot: Callable[..., Any]
    ) -> None:
        bot, coordinator, _ = await _prompted(make_bot, store, engine, "P-210", age="95")
        assert "Flagged for review:" in _summary(bot, COORDINATOR)["text"]
        assert _listed(coordinator.texts[-1]) == ["<b>#3</b> Age: 95"]
