"""The engine's user-facing messages, in English and French.

Kept in one small catalogue so a translation fix is a one-line change and a test can
check that every key exists in every language.
"""

from __future__ import annotations

from typing import Any

CATALOGUE: dict[str, dict[str, str]] = {
    "required": {
        "en": "This answer is required: 'unknown' is not accepted here.",
        "fr": "Cette réponse est obligatoire : « inconnu » n'est pas accepté ici.",
    },
    "empty": {
        "en": "Please type an answer.",
        "fr": "Merci de saisir une réponse.",
    },
    "yesno": {
        "en": "Please answer yes or no (or 'unknown').",
        "fr": "Merci de répondre oui ou non (ou « inconnu »).",
    },
    "choice": {
        "en": "Please choose one of: {choices}.",
        "fr": "Merci de choisir parmi : {choices}.",
    },
    "integer": {
        "en": "Please type a whole number{range}.",
        "fr": "Merci de saisir un nombre entier{range}.",
    },
    "number": {
        "en": "Please type a number{range}{uln}.",
        "fr": "Merci de saisir un nombre{range}{uln}.",
    },
    "uln_hint": {
        "en": " (e.g. 1.2 or 1.2 x ULN)",
        "fr": " (par ex. 1,2 ou 1,2 x LSN)",
    },
    "range_between": {"en": " between {lo} and {hi}", "fr": " entre {lo} et {hi}"},
    "range_min": {"en": " of at least {lo}", "fr": " supérieur ou égal à {lo}"},
    "range_min_exclusive": {"en": " greater than {lo}", "fr": " strictement supérieur à {lo}"},
    "range_max": {"en": " of at most {hi}", "fr": " inférieur ou égal à {hi}"},
    "range_between_exclusive": {
        "en": " greater than {lo} and at most {hi}",
        "fr": " strictement supérieur à {lo} et inférieur ou égal à {hi}",
    },
    "bound_between": {"en": "between {lo} and {hi} {unit}", "fr": "entre {lo} et {hi} {unit}"},
    "bound_between_exclusive": {
        "en": "more than {lo} and at most {hi} {unit}",
        "fr": "plus de {lo} et au plus {hi} {unit}",
    },
    "bound_min": {"en": "at least {lo} {unit}", "fr": "au moins {lo} {unit}"},
    "bound_min_exclusive": {"en": "more than {lo} {unit}", "fr": "plus de {lo} {unit}"},
    "bound_max": {"en": "at most {hi} {unit}", "fr": "au plus {hi} {unit}"},
    "count_whole": {
        "en": "{number} {unit} is not a whole number: a count per mm³ has no decimals "
        "(1,500/mm³ = 1500/mm³). Accepted units: {units}.",
        "fr": "{number} {unit} n'est pas un nombre entier : un compte par mm³ n'a pas de "
        "décimales (1 500/mm³ = 1500/mm³). Unités acceptées : {units}.",
    },
    "too_long": {
        "en": "This answer is too long (more than {limit} characters): please type a shorter one.",
        "fr": "Cette réponse est trop longue (plus de {limit} caractères) : merci d'en "
        "saisir une plus courte.",
    },
    "quantity": {
        "en": "Please type a number with its unit, one of: {units}.",
        "fr": "Merci de saisir un nombre avec son unité, parmi : {units}.",
    },
    "quantity_default": {
        "en": "Please type a number: alone, it is read in {unit}; with a unit, one of: {units}.",
        "fr": "Merci de saisir un nombre : seul, il est lu en {unit} ; avec une unité, "
        "parmi : {units}.",
    },
    "quantity_ambiguous": {
        "en": "{text} can be read as {first} or as {second}: please type it again so that it "
        "reads only one way (e.g. without a space inside the number).",
        "fr": "{text} peut se lire {first} ou {second} : merci de le saisir à nouveau de façon "
        "non ambiguë (par ex. sans espace dans le nombre).",
    },
    # The bound is not offered as the value: '> 1.5' typed '1.5' passes a limit of
    # ≤ 1.5 that the true value fails.
    "comparison_sign": {
        "en": "A value with '>' or '<' cannot be recorded: please type the exact value alone. "
        "If the report gives only the bound, typing {example} records the bound as the "
        "value: check it against the criterion's limit, or type /unknown.",
        "fr": "Une valeur avec « > » ou « < » ne peut pas être enregistrée : merci de saisir "
        "la valeur exacte seule. Si le compte rendu ne donne que la borne, saisir {example} "
        "l'enregistre comme valeur : vérifiez-la par rapport à la limite du critère, ou "
        "saisissez /unknown.",
    },
    "comparison_sign_unit": {
        "en": "A value with '>' or '<' cannot be recorded: please type the exact value "
        "alone, with its unit, one of: {units}. If the report gives only the bound, the "
        "bound is recorded as the value: check it against the criterion's limit, or type "
        "/unknown.",
        "fr": "Une valeur avec « > » ou « < » ne peut pas être enregistrée : merci de saisir "
        "la valeur exacte seule, avec son unité, parmi : {units}. Si le compte rendu ne "
        "donne que la borne, elle est enregistrée comme valeur : vérifiez-la par rapport à "
        "la limite du critère, ou saisissez /unknown.",
    },
    "uln_concentration": {
        "en": "{value} is a concentration, not a multiple of the ULN: please type the value "
        "divided by the laboratory's upper limit of normal (e.g. 1.2).",
        "fr": "{value} est une concentration, pas un multiple de la LSN : merci de saisir la "
        "valeur divisée par la limite supérieure de la normale du laboratoire (par ex. 1,2).",
    },
    "uln_too_high": {
        "en": "{value} x ULN is not plausible (at most {hi} x ULN): if it is the lab value "
        "itself, please type it divided by the laboratory's upper limit of normal (e.g. 1.2).",
        "fr": "{value} LSN n'est pas plausible ({hi} LSN au plus) : s'il s'agit de la valeur "
        "du laboratoire, merci de la saisir divisée par la limite supérieure de la normale "
        "(par ex. 1,2).",
    },
    "unknown_unit": {
        "en": "I don't know the unit '{unit}'. Accepted units: {units}.",
        "fr": "Je ne connais pas l'unité « {unit} ». Unités acceptées : {units}.",
    },
    "unit_other_question": {
        "en": "{unit} is not a unit for this question. Accepted units: {units}.",
        "fr": "{unit} n'est pas une unité pour cette question. Unités acceptées : {units}.",
    },
    "date_not_number": {
        "en": "{text} is a date, but a number is expected here. {expected}",
        "fr": "{text} est une date, mais un nombre est attendu ici. {expected}",
    },
    "choice_ambiguous": {
        "en": "“{text}” is the start of more than one choice: {choices}. Please type more "
        "of the name.",
        "fr": "« {text} » est le début de plusieurs choix : {choices}. Merci de saisir "
        "davantage du nom.",
    },
    "quantity_range": {
        "en": "{value} is out of range: expected {expected}.",
        "fr": "{value} est hors limites : attendu {expected}.",
    },
    "date": {
        "en": "Please type a date as DD/MM/YYYY or YYYY-MM-DD{specials}.",
        "fr": "Merci de saisir une date au format JJ/MM/AAAA ou AAAA-MM-JJ{specials}.",
    },
    "date_no_year": {
        "en": "{text}: the year is missing. Please type the whole date, e.g. {example}.",
        "fr": "{text} : l'année manque. Merci de saisir la date complète, par ex. {example}.",
    },
    "date_span": {
        "en": "“{text}” is a span of time, not a day: the rules count days. Please type the "
        "date as DD/MM/YYYY{specials}.",
        "fr": "« {text} » est une durée, pas un jour : les règles comptent en jours. Merci de "
        "saisir la date au format JJ/MM/AAAA{specials}.",
    },
    "date_invalid": {
        "en": "{text} is not a valid calendar date (day first: DD/MM/YYYY).",
        "fr": "{text} n'est pas une date valide (jour d'abord : JJ/MM/AAAA).",
    },
    "date_weekday": {
        "en": "{date} is a {weekday}, not a {typed}: please check the date (DD/MM/YYYY).",
        "fr": "Le {date} est un {weekday}, pas un {typed} : merci de vérifier la date "
        "(JJ/MM/AAAA).",
    },
    # Monday first, as datetime.date.weekday() counts.
    "weekdays": {
        "en": "Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday",
        "fr": "lundi,mardi,mercredi,jeudi,vendredi,samedi,dimanche",
    },
    "date_two_digit_year": {
        "en": "{text}: the year needs four digits (DD/MM/YYYY).",
        "fr": "{text} : l'année doit comporter quatre chiffres (JJ/MM/AAAA).",
    },
    "date_after_today": {
        "en": "{date} is after today ({today}): this date records something that has "
        "already happened; please check it.",
        "fr": "{date} est postérieure à aujourd'hui ({today}) : cette date est celle d'un "
        "événement déjà passé ; merci de vérifier.",
    },
    "date_ahead_past_event": {
        "en": "“{text}” ({date}) is after today: this date records something that has "
        "already happened. Please type the day it happened, as DD/MM/YYYY.",
        "fr": "« {text} » ({date}) est après aujourd'hui : cette date est celle d'un "
        "événement déjà passé. Merci de saisir le jour où il a eu lieu, au format JJ/MM/AAAA.",
    },
    "date_after_start": {
        "en": "{date} is after the planned start date ({start}): please check it.",
        "fr": "{date} est postérieure à la date de début prévue ({start}) : merci de vérifier.",
    },
    "special_today": {"en": "today", "fr": "aujourd'hui"},
    "special_none": {"en": "none", "fr": "aucun"},
    "special_ongoing": {"en": "ongoing", "fr": "en cours"},
    "or_words": {"en": ", or {words}", "fr": ", ou {words}"},
    "text_length": {
        "en": "Please type between {lo} and {hi} characters.",
        "fr": "Merci de saisir entre {lo} et {hi} caractères.",
    },
    "pseudonym_length": {
        "en": "A patient code has between {lo} and {hi} characters.",
        "fr": "Un code patient comporte entre {lo} et {hi} caractères.",
    },
    "text_pattern": {
        "en": "Only letters, digits and '-' are allowed (letters without accents: A–Z).",
        "fr": "Seuls les lettres sans accent (A–Z), les chiffres et « - » sont autorisés.",
    },
    "pseudonym_digit": {
        "en": "A patient code must contain at least one digit (use the centre's screening "
        "code, never a name).",
        "fr": "Un code patient doit contenir au moins un chiffre (utilisez le code de "
        "screening du centre, jamais un nom).",
    },
    "pseudonym_date": {
        "en": "This code reads as a date: a birth date identifies a patient. Please use the "
        "pseudonymous screening code.",
        "fr": "Ce code ressemble à une date : une date de naissance identifie le patient. "
        "Merci d'utiliser le code de screening pseudonymisé.",
    },
    "unknown_answer": {"en": "unknown", "fr": "inconnu"},
    # {names}: question labels joined with "label_separator" (labels may hold commas).
    "label_separator": {"en": "; ", "fr": " ; "},
    "reason_unknown": {
        "en": "unknown: {names}",
        "fr": "inconnu : {names}",
    },
    "reason_pending": {
        "en": "not answered yet: {names}",
        "fr": "pas encore renseigné : {names}",
    },
    "reason_invalid_date": {
        "en": "date after the planned start, to answer again: {names}",
        "fr": "date postérieure au début prévu, à renseigner à nouveau : {names}",
    },
    "reason_to_confirm": {
        "en": "measured on the previous date, to confirm for the new one: {names}",
        "fr": "mesuré à la date précédente, à confirmer pour la nouvelle : {names}",
    },
    "start_in_past": {
        "en": "The planned start date ({start}) is in the past: please check it (a mistyped "
        "year?).",
        "fr": "La date de début prévue ({start}) est passée : vérifiez-la (une erreur d'année ?).",
    },
    "invalidated_by_start": {
        "en": "The new planned start date ({start}) makes these answers invalid; please "
        "answer them again: {questions}.",
        "fr": "La nouvelle date de début prévue ({start}) rend ces réponses invalides ; "
        "merci d'y répondre à nouveau : {questions}.",
    },
    "invalid_after_start": {
        "en": "These answers are after the planned start date ({start}); please answer them "
        "again: {questions}.",
        "fr": "Ces réponses sont postérieures à la date de début prévue ({start}) ; merci "
        "d'y répondre à nouveau : {questions}.",
    },
    "earliest_start": {
        "en": "would pass from a planned start on {date}",
        "fr": "serait respecté pour un début prévu le {date}",
    },
    "computed_intro": {"en": "Computed: {text}", "fr": "Calculé : {text}"},
}


def message(key: str, lang: str, **params: Any) -> str:
    """Render a catalogue entry; an unknown language falls back to English."""
    entry = CATALOGUE[key]
    template = entry.get(lang) or entry["en"]
    return template.format(**params)
