"""QA round 4 (issue 4): a French investigator on a phone, through Telegram.

Each test reads as a transcript and failed on the code before its fix.
"""

from __future__ import annotations

from tests.bot.conftest import Bot
from tests.bot.test_field_investigator import answer, at_the_stop_offer, current, screening_at


async def test_summary_after_ending_at_the_first_failure_folds_what_was_never_asked(
    bot: Bot,
) -> None:
    """« Terminer le screening » at N01, then /summary: two phone messages (3,862 + 3,972
    characters) where 35 criteria read « pas encore renseigné », on a closed screening."""
    chat = await at_the_stop_offer(bot)
    await chat.press("Terminer le screening")
    await chat.send("/summary")
    (summary,) = chat.texts[-1:]
    assert "N01" in summary and "❌" in summary
    assert "pas encore renseigné" not in summary, summary
    assert "autres critères non documentés (screening arrêté au premier critère en échec) : I" in (
        summary
    ), summary
    assert len(summary) < 1500, len(summary)


async def test_the_unknown_hint_names_the_french_word_that_works(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """« (/unknown si inconnu) » under each typed question: /inconnu got « Je ne connais
    pas la commande », while the word « inconnu », typed, works."""
    chat = await screening_at(bot, "last_systemic_therapy_date", eligible)
    assert chat.last_text.endswith("(ou « inconnu » si la valeur n'est pas connue)"), chat.last_text
    await chat.send("inconnu")
    assert current(bot) != "last_systemic_therapy_date", chat.last_text
    assert answer(bot, "last_systemic_therapy_date") == {"unknown": True}


async def test_a_keep_button_fits_a_phone_and_says_it_was_cut(bot: Bot) -> None:
    """« Garder : Lymphome primitif du système nerveux central » (53 characters) ran off a
    phone's screen, cut mid-word by Telegram; the whole answer is in the message."""
    chat = bot.chat(language_code="fr")
    await chat.send("/new P-0001")
    await chat.send("aujourd'hui")
    await chat.press("Lymphome primitif du système nerveux central")
    await chat.send("/back")
    assert "Réponse actuelle : Lymphome primitif du système nerveux central" in chat.last_text
    (keep,) = [b for b in chat.buttons if b.startswith("Garder")]
    assert keep == "Garder : Lymphome primitif du…"
    await chat.press(keep)
    assert current(bot) != "cohort"
    assert answer(bot, "cohort") == "pcnsl"


async def test_a_refused_typed_choice_lists_the_choices_unnumbered_with_the_buttons(
    bot: Bot, eligible: dict[str, str]
) -> None:
    """« Merci de choisir parmi : 1. Aucune, 2. Symptomatiques… », then « 4 » got « Les
    boutons ne sont pas numérotés », without buttons: a dead end on a phone."""
    chat = await screening_at(bot, "cns_metastases", eligible)
    await chat.send("peut-être")
    assert chat.last_text.startswith("Merci de choisir parmi : Aucune, Symptomatiques,"), (
        chat.last_text
    )
    assert "1." not in chat.last_text
    assert "Aucune" in chat.buttons and "Inconnu" in chat.buttons, chat.buttons
