"""Dates said with their day of the week, and what a typed choice's refusal lists.

From QA round 4 (a French investigator, protocol v1 in chat): « le 3 juin 2025 » and
« mardi 3 juin 2025 » were refused with the generic date format; and 'tumeur' at
« Groupe de la tumeur neuroendocrine ? » was told it "is the start of" « Carcinoïde »,
which it matched through the synonym « tumeur carcinoïde » only.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.dialogs.conftest import Say

JUNE_3 = dt.date(2025, 6, 3)  # a Tuesday

# -- dates said with 'le', 'on' and a day of the week --------------------------------------


@pytest.mark.parametrize(
    ("typed", "lang"),
    [
        ("le 3 juin 2025", "fr"),
        ("mardi 3 juin 2025", "fr"),
        ("Mardi 3 juin 2025", "fr"),
        ("MARDI 3 JUIN 2025", "fr"),
        ("le mardi 3 juin 2025", "fr"),
        ("mar. 3 juin 2025", "fr"),
        ("mardi, 03/06/2025", "fr"),
        ("le 03/06/2025", "fr"),
        ("on 3 June 2025", "en"),
        ("Tuesday 3 June 2025", "en"),
        ("on Tuesday, June 3, 2025", "en"),
        ("Tue. 3 June 2025", "en"),
        ("tues 2025-06-03", "en"),
    ],
)
def test_a_date_said_with_le_on_or_its_weekday_is_read(say: Say, typed: str, lang: str) -> None:
    step = say("lab_date", typed, lang)
    assert step.accepted, step.error
    assert step.answer is not None and step.answer.value == JUNE_3


@pytest.mark.parametrize(
    ("typed", "lang", "error"),
    [
        (
            "lundi 3 juin 2025",
            "fr",
            "Le 03/06/2025 est un mardi, pas un lundi : merci de vérifier la date (JJ/MM/AAAA).",
        ),
        (
            "le Mercredi 03/06/2025",
            "fr",
            "Le 03/06/2025 est un mardi, pas un mercredi : merci de vérifier la date (JJ/MM/AAAA).",
        ),
        (
            "Monday 3 June 2025",
            "en",
            "03/06/2025 is a Tuesday, not a Monday: please check the date (DD/MM/YYYY).",
        ),
        (
            # Typed in French in an English chat: the names are the chat's language.
            "vendredi 3 juin 2025",
            "en",
            "03/06/2025 is a Tuesday, not a Friday: please check the date (DD/MM/YYYY).",
        ),
    ],
)
def test_a_weekday_that_is_not_the_dates_names_the_real_one(
    say: Say, typed: str, lang: str, error: str
) -> None:
    step = say("lab_date", typed, lang)
    assert not step.accepted
    assert step.error == error


@pytest.mark.parametrize(
    ("typed", "lang", "error"),
    [
        (
            "mardi 3 juin",
            "fr",
            "mardi 3 juin : l'année manque. Merci de saisir la date complète, par ex. 03/06/2026.",
        ),
        (
            "le 3 juin 25",
            "fr",
            "le 3 juin 25 : l'année doit comporter quatre chiffres (JJ/MM/AAAA).",
        ),
        (
            "le 31 février 2025",
            "fr",
            "le 31 février 2025 n'est pas une date valide (jour d'abord : JJ/MM/AAAA).",
        ),
    ],
)
def test_after_le_or_a_weekday_a_date_is_refused_for_what_is_wrong_with_it(
    say: Say, typed: str, lang: str, error: str
) -> None:
    assert say("lab_date", typed, lang).error == error


def test_mar_is_tuesday_before_a_day_and_a_month_and_march_otherwise(say: Say) -> None:
    """« mar. » abbreviates mardi, and 'Mar' March: the day of the week is only taken off
    when what follows is a date."""
    tuesday = say("lab_date", "mar. 3 juin 2025", "fr")
    assert tuesday.answer is not None and tuesday.answer.value == JUNE_3
    march = say("lab_date", "Mar 3, 2025")
    assert march.answer is not None and march.answer.value == dt.date(2025, 3, 3)
    no_year = say("lab_date", "Mar 12")
    assert no_year.error == (
        "Mar 12: the year is missing. Please type the whole date, e.g. 12/03/2026."
    )


# -- choices: a name's start, never words inside it ----------------------------------------


@pytest.mark.parametrize(
    ("question", "typed", "lang"),
    [
        # 'Untreated' also describes symptomatic metastases (an exclusion): read as
        # « Asymptomatiques, non traitées », N09 would pass on a guess.  The buttons and
        # the list of choices come with the refusal.
        ("cns_metastases", "non traitées", "fr"),
        ("cns_metastases", "untreated", "en"),
    ],
)
def test_words_inside_a_choices_name_do_not_pick_it(
    say: Say, question: str, typed: str, lang: str
) -> None:
    step = say(question, typed, lang)
    assert not step.accepted
    assert step.error is not None and "Asymptomati" in step.error, step.error


@pytest.mark.parametrize(
    ("question", "typed", "lang", "error"),
    [
        (
            "net_subtype",
            "tumeur",
            "fr",
            "« tumeur » est le début de plusieurs choix : Tumeur neuroendocrine bien "
            "différenciée, Carcinoïde (tumeur carcinoïde). Merci de saisir davantage du nom.",
        ),
        (
            "net_subtype",
            "tumeur",
            "en",
            "“tumeur” is the start of more than one choice: Well differentiated "
            "neuroendocrine tumour (Tumeur neuroendocrine bien différenciée), Carcinoid "
            "(tumeur carcinoïde). Please type more of the name.",
        ),
    ],
)
def test_a_choice_matched_through_a_synonym_shows_the_synonym(
    say: Say, question: str, typed: str, lang: str, error: str
) -> None:
    step = say(question, typed, lang)
    assert not step.accepted
    assert step.error == error
