"""The bot's user-facing messages, in English and French: one small catalogue.

Clinical wording (questions, criteria, reasons) comes from the protocol file and the
engine; this catalogue holds only the conversation's own words.  A test checks that
every key exists in every language and that both take the same placeholders.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "fr")

CATALOGUE: dict[str, dict[str, str]] = {
    # -- access and language ------------------------------------------------------
    "refused": {
        "en": "⛔ You are not authorised to screen patients with this bot.\n"
        "Your Telegram user id is {user_id}: send it to the study coordinator, "
        "who can give you access.",
        "fr": "⛔ Vous n'êtes pas autorisé(e) à inclure des patients avec ce bot.\n"
        "Votre identifiant Telegram est {user_id} : transmettez-le au coordinateur "
        "de l'étude, qui pourra vous donner accès.",
    },
    "revoked": {
        "en": "⛔ Your access to this bot was revoked.\n"
        "Your Telegram user id is {user_id}: ask the study coordinator if this is a mistake.",
        "fr": "⛔ Votre accès à ce bot a été retiré.\n"
        "Votre identifiant Telegram est {user_id} : voyez avec le coordinateur de l'étude "
        "s'il s'agit d'une erreur.",
    },
    "revoked_short": {
        "en": "Access revoked (your id: {user_id}).",
        "fr": "Accès retiré (votre identifiant : {user_id}).",
    },
    "refused_short": {
        "en": "Not authorised (your id: {user_id}).",
        "fr": "Non autorisé (votre identifiant : {user_id}).",
    },
    "welcome": {
        "en": "Welcome to the {title} eligibility assistant.\n"
        "I ask the criteria one question at a time; buttons wherever the answer is a "
        "choice. /new starts a screening, /help lists the commands.\n"
        "Language:",
        "fr": "Bienvenue dans l'assistant d'éligibilité {title}.\n"
        "Je pose les critères une question à la fois, avec des boutons dès que la "
        "réponse est un choix. /new commence un screening, /help liste les commandes.\n"
        "Langue :",
    },
    "welcome_open": {
        "en": "You have a screening in progress ({code}): /resume to continue.",
        "fr": "Vous avez un screening en cours ({code}) : /resume pour continuer.",
    },
    "welcome_code": {
        "en": "/new is waiting for a patient code: type it (or /cancel, then /resume to "
        "go back to the screening in progress).",
        "fr": "/new attend un code patient : tapez-le (ou /cancel, puis /resume pour "
        "revenir au screening en cours).",
    },
    "lang_choose": {"en": "Choose your language:", "fr": "Choisissez votre langue :"},
    "lang_set": {
        "en": "Language set to English.",
        "fr": "Langue : français.",
    },
    "lang_bad": {
        "en": "Unknown language '{language}': use /lang en or /lang fr.",
        "fr": "Langue « {language} » inconnue : utilisez /lang en ou /lang fr.",
    },
    "help": {
        "en": "Commands:\n"
        "/new – start a screening (asks the patient code)\n"
        "/resume [code] – continue a screening\n"
        "/list – my screenings and their pending items\n"
        "/back – go back to the previous question\n"
        "/unknown – answer 'unknown' to the current question\n"
        "/status – where am I?\n"
        "/summary – criteria so far\n"
        "/cancel – cancel (abandon the screening, after confirmation)\n"
        "/lang – language (en/fr)\n"
        "/help – this list\n"
        "Numbers, dates (DD/MM/YYYY) and codes are typed; everything else has buttons.",
        "fr": "Commandes :\n"
        "/new – nouveau screening (demande le code patient)\n"
        "/resume [code] – reprendre un screening\n"
        "/list – mes screenings et ce qu'il leur manque\n"
        "/back – revenir à la question précédente\n"
        "/unknown – répondre « inconnu » à la question en cours\n"
        "/status – où en suis-je ?\n"
        "/summary – critères à ce stade\n"
        "/cancel – annuler (abandonner le screening, après confirmation)\n"
        "/lang – langue (en/fr)\n"
        "/help – cette liste\n"
        "Les nombres, dates (JJ/MM/AAAA) et codes se saisissent ; le reste a des boutons.",
    },
    "unknown_command": {
        "en": "I don't know the command {command}. /help lists the commands.",
        "fr": "Je ne connais pas la commande {command}. /help liste les commandes.",
    },
    # -- starting and resuming ------------------------------------------------------
    "ask_code": {
        "en": "Patient code? Use the centre's pseudonymous screening code "
        "(with at least one digit; never a name or a birth date).",
        "fr": "Code patient ? Utilisez le code de screening pseudonymisé du centre "
        "(avec au moins un chiffre ; jamais un nom ni une date de naissance).",
    },
    "code_placeholder": {"en": "e.g. P-0123", "fr": "ex. P-0123"},
    "started": {
        "en": "Screening {code} started ({title}, version {version}).",
        "fr": "Screening {code} commencé ({title}, version {version}).",
    },
    "duplicate_own": {
        "en": "Patient {code} already has a screening in progress: /resume {code} to continue it.",
        "fr": "Le patient {code} a déjà un screening en cours : /resume {code} pour le reprendre.",
    },
    "duplicate_other": {
        "en": "Patient {code} already has a screening in progress, opened by another "
        "investigator. Check the code with your coordinator.",
        "fr": "Le patient {code} a déjà un screening en cours, ouvert par un autre "
        "investigateur. Vérifiez le code avec votre coordinateur.",
    },
    "no_open": {
        "en": "No screening in progress. /new starts one, /list shows yours.",
        "fr": "Aucun screening en cours. /new en commence un, /list montre les vôtres.",
    },
    "no_open_code": {
        "en": "You have no screening in progress for {code}. /list shows yours.",
        "fr": "Vous n'avez pas de screening en cours pour {code}. /list montre les vôtres.",
    },
    "resume_choose": {
        "en": "Which screening do you want to continue?",
        "fr": "Quel screening voulez-vous reprendre ?",
    },
    "resumed": {"en": "Continuing screening {code}.", "fr": "Reprise du screening {code}."},
    "start_now_past": {
        "en": "⚠️ The planned start date ({start}) is now in the past, and every date is "
        "checked against it: change it first if the start has moved.",
        "fr": "⚠️ La date de début prévue ({start}) est maintenant passée, et toutes les "
        "dates sont contrôlées par rapport à elle : modifiez-la d'abord si le début a "
        "été décalé.",
    },
    "button_change_start": {
        "en": "Change the planned start date",
        "fr": "Modifier la date de début prévue",
    },
    "reopened_incomplete": {
        "en": "Screening {code} ended incomplete: reopened to document what was unknown. "
        "Your coordinator gets the new summary when you finish.",
        "fr": "Le screening {code} s'était terminé incomplet : rouvert pour documenter ce qui "
        "était inconnu. Votre coordinateur recevra le nouveau résumé à la fin.",
    },
    "back_closed_incomplete": {
        "en": "Screening {code} ended incomplete. To change or document answers, "
        "/resume {code} reopens it.",
        "fr": "Le screening {code} s'est terminé incomplet. Pour modifier ou compléter des "
        "réponses, /resume {code} le rouvre.",
    },
    "not_reopenable": {
        "en": "Screening {code} is closed ({verdict}). Only your coordinator can reopen it.",
        "fr": "Le screening {code} est clos ({verdict}). Seul votre coordinateur peut le rouvrir.",
    },
    "other_open_code": {
        "en": "Patient {code} has another screening in progress, so this one stays closed. "
        "/list shows yours; check with your coordinator if it is not among them.",
        "fr": "Le patient {code} a un autre screening en cours : celui-ci reste clos. "
        "/list montre les vôtres ; voyez avec votre coordinateur s'il n'y figure pas.",
    },
    "code_still_needed": {
        "en": "The patient code cannot be unknown: it is what the screening is filed under.",
        "fr": "Le code patient ne peut pas être inconnu : c'est sous ce code que le "
        "screening est classé.",
    },
    # The terminal chat's key that presses the "Keep" button on a typed question.
    "key_enter": {"en": "Enter", "fr": "Entrée"},
    "key_type": {"en": "type: {label}", "fr": "tapez : {label}"},
    "unreadable": {
        "en": "I can only read typed text and buttons: please type the value "
        "(a photo, voice message or file is not read, and nothing was recorded).",
        "fr": "Je ne lis que le texte saisi et les boutons : saisissez la valeur "
        "(une photo, un message vocal ou un fichier n'est pas lu, et rien n'a été "
        "enregistré).",
    },
    "empty_line": {
        "en": "Type an answer, or /help for the commands.",
        "fr": "Saisissez une réponse, ou /help pour les commandes.",
    },
    # -- the questions -----------------------------------------------------------------
    "progress": {"en": "Q {position}/{total}", "fr": "Q {position}/{total}"},
    "current_answer": {
        "en": "Current answer: {answer}",
        "fr": "Réponse actuelle : {answer}",
    },
    "unknown_hint": {
        "en": "(/unknown if not known)",
        # The word works typed; « /unknown si inconnu » sent a French user to /inconnu,
        # which no menu has.
        "fr": "(ou « inconnu » si la valeur n'est pas connue)",
    },
    "button_unknown": {"en": "Unknown", "fr": "Inconnu"},
    "button_keep": {"en": "Keep: {answer}", "fr": "Garder : {answer}"},
    "recorded": {"en": "→ {answer}", "fr": "→ {answer}"},
    "list_unloaded": {
        "en": "• {code} — its protocol version is not loaded on this server: ask your coordinator",
        "fr": "• {code} — sa version du protocole n'est pas chargée sur ce serveur : "
        "voyez avec votre coordinateur",
    },
    "reply_earlier": {
        "en": "That replies to an earlier question ({code}: “{label}”): nothing was recorded. "
        "Answer the question below, or /back to change an earlier answer.",
        "fr": "Ce message répond à une question précédente ({code} : « {label} ») : rien n'a "
        "été enregistré. Répondez à la question ci-dessous, ou /back pour modifier une "
        "réponse précédente.",
    },
    "reply_earlier_unknown": {
        "en": "That replies to an earlier message: nothing was recorded. Answer the question "
        "below.",
        "fr": "Ce message répond à un message précédent : rien n'a été enregistré. Répondez "
        "à la question ci-dessous.",
    },
    "choice_not_numbered": {
        "en": "The buttons are not numbered: press one, or type its name (e.g. {example}).",
        "fr": "Les boutons ne sont pas numérotés : appuyez sur l'un d'eux, ou tapez son nom "
        "(ex. {example}).",
    },
    "kept": {"en": "→ {answer} (kept)", "fr": "→ {answer} (conservé)"},
    "computed": {"en": "ℹ️ Computed: {text}", "fr": "ℹ️ Calculé : {text}"},
    "warning": {"en": "⚠️ {text}", "fr": "⚠️ {text}"},
    "criteria_warning": {"en": "⚠️ {ids}: {reason}", "fr": "⚠️ {ids} : {reason}"},
    "criterion_failed": {
        # Not "not met" / « non rempli »: said of a non-inclusion criterion, those read as
        # "the patient does not have it", the opposite of what is meant.
        "en": "❌ Criterion {id} failed (excludes the patient) — {label}: {reason}",
        "fr": "❌ Critère {id} en échec (exclut le patient) — {label} : {reason}",
    },
    "stop_offer": {
        "en": "The patient is not eligible. End the screening now, or document the "
        "remaining criteria?",
        "fr": "Le patient n'est pas éligible. Terminer le screening maintenant, ou "
        "documenter les critères restants ?",
    },
    "stop_pending": {
        "en": "Please choose first: end the screening, or document the remaining criteria.",
        "fr": "Merci de choisir d'abord : terminer le screening, ou documenter les "
        "critères restants.",
    },
    "button_end": {"en": "End screening", "fr": "Terminer le screening"},
    "button_document": {"en": "Document remaining criteria", "fr": "Documenter la suite"},
    "chose_end": {"en": "→ Screening ended.", "fr": "→ Screening terminé."},
    "chose_document": {
        "en": "→ Documenting the remaining criteria.",
        "fr": "→ Documentation des critères restants.",
    },
    "nothing_back": {
        "en": "This is the first question: there is nothing to go back to.",
        "fr": "C'est la première question : impossible de revenir en arrière.",
    },
    # -- refusals of buttons ------------------------------------------------------------
    "stale": {
        "en": "This question was already answered: nothing changed.",
        "fr": "Cette question a déjà reçu une réponse : rien n'a changé.",
    },
    "forged": {
        "en": "This button is not valid for you: nothing changed.",
        "fr": "Ce bouton n'est pas valable pour vous : rien n'a changé.",
    },
    "closed": {
        "en": "This screening is closed: nothing changed.",
        "fr": "Ce screening est clos : rien n'a changé.",
    },
    # -- status, summary, list ---------------------------------------------------------
    "status": {
        "en": "Screening {code}: {progress} — {question}\nSo far: {failed} failed, "
        "{unknown} unknown or pending.",
        "fr": "Screening {code} : {progress} — {question}\nÀ ce stade : critères en échec : "
        "{failed}, inconnus ou en attente : {unknown}.",
    },
    "summary_title": {
        "en": "Screening {code} ({status}) — verdict so far: {verdict}",
        "fr": "Screening {code} ({status}) — verdict à ce stade : {verdict}",
    },
    # A screening no longer open: its verdict is not provisional.
    "summary_title_closed": {
        "en": "Screening {code} ({status}) — verdict: {verdict}",
        "fr": "Screening {code} ({status}) — verdict : {verdict}",
    },
    "no_screening_left": {
        "en": "No screening to list: your {n} screening(s) were abandoned. /new starts one.",
        "fr": "Aucun screening à afficher : vos {n} screening(s) ont été abandonnés. "
        "/new en commence un.",
    },
    "no_screening": {
        "en": "You have no screening yet. /new starts one.",
        "fr": "Vous n'avez encore aucun screening. /new en commence un.",
    },
    "list_title": {"en": "Your screenings:", "fr": "Vos screenings :"},
    "list_open": {
        "en": "• {code} — in progress, {progress}, {pending} question(s) left",
        "fr": "• {code} — en cours, {progress}, {pending} question(s) restante(s)",
    },
    "list_done": {
        "en": "• {code} — {verdict}{items}",
        "fr": "• {code} — {verdict}{items}",
    },
    "list_items": {
        "en": "; to document: {ids} (/resume {code})",
        "fr": " ; à documenter : {ids} (/resume {code})",
    },
    "list_more": {"en": "… and {n} more.", "fr": "… et {n} de plus."},
    "status_in_progress": {"en": "in progress", "fr": "en cours"},
    "status_completed": {"en": "completed", "fr": "terminé"},
    "status_abandoned": {"en": "abandoned", "fr": "abandonné"},
    # -- verdict -------------------------------------------------------------------------
    "verdict_eligible": {"en": "ELIGIBLE", "fr": "ÉLIGIBLE"},
    "verdict_not_eligible": {"en": "NOT ELIGIBLE", "fr": "NON ÉLIGIBLE"},
    "verdict_incomplete": {
        "en": "INCOMPLETE (unknown items)",
        "fr": "INCOMPLET (éléments inconnus)",
    },
    "verdict_incomplete_so_far": {
        "en": "INCOMPLETE (questions still to answer)",
        "fr": "INCOMPLET (questions encore à poser)",
    },
    "incomplete_next": {
        "en": "When the missing results are in: /resume {code} (it asks again only what "
        "is still unknown).",
        "fr": "Quand les résultats manquants seront là : /resume {code} (seul ce qui reste "
        "inconnu sera redemandé).",
    },
    "verdict_unchanged": {
        "en": "Nothing changed since the last verdict: your coordinators were not sent it again.",
        "fr": "Rien n'a changé depuis le dernier verdict : il n'a pas été renvoyé à vos "
        "coordinateurs.",
    },
    "complete": {
        "en": "🏁 Screening {code} complete — verdict: {verdict}",
        "fr": "🏁 Screening {code} terminé — verdict : {verdict}",
    },
    "failing": {"en": "Failed criteria:", "fr": "Critères en échec :"},
    "unknowns": {"en": "Criteria unknown:", "fr": "Critères inconnus :"},
    "flagged": {"en": "To review:", "fr": "À vérifier :"},
    "not_documented": {
        "en": "{n} other criteria not documented (screening ended at the first failed criterion).",
        "fr": "{n} autres critères non documentés (screening arrêté au premier critère en "
        "échec).",
    },
    "summary_not_asked": {
        "en": "⏹ {n} other criteria not documented (screening ended at the first failed "
        "criterion): {ids}",
        "fr": "⏹ {n} autres critères non documentés (screening arrêté au premier critère en "
        "échec) : {ids}",
    },
    "summary_later": {
        "en": "⏳ {n} criteria wait for questions still to come: {ids}",
        "fr": "⏳ {n} critère(s) en attente des questions à venir : {ids}",
    },
    "criterion_line": {"en": "• {id} {label}: {reason}", "fr": "• {id} {label} : {reason}"},
    "status_line": {"en": "{mark} {id} {label}: {reason}", "fr": "{mark} {id} {label} : {reason}"},
    "earliest": {
        "en": "Earliest possible start date: {date}",
        "fr": "Date de début la plus précoce possible : {date}",
    },
    "earliest_then": {
        "en": "  On that date, also: {ids}: {reason}",
        "fr": "  À cette date, aussi : {ids} : {reason}",
    },
    # -- cancel ----------------------------------------------------------------------------
    "cancel_confirm": {
        "en": "Abandon screening {code}? Its answers stay in the audit trail.",
        "fr": "Abandonner le screening {code} ? Ses réponses restent dans l'historique.",
    },
    "cancel_confirm_resumed": {
        "en": "Stop documenting {code} for now? “Close it again” closes it with the answers "
        "given so far (its verdict worked out again; /resume {code} later). “Abandon” "
        "discards the screening and its verdict (its answers stay in the audit trail).",
        "fr": "Arrêter de documenter {code} pour l'instant ? « Le refermer » le clôt avec "
        "les réponses données jusqu'ici (son verdict est recalculé ; /resume {code} plus "
        "tard). « Abandonner » écarte le screening et son verdict (ses réponses restent "
        "dans l'historique).",
    },
    "button_close_again": {"en": "Close it again", "fr": "Le refermer"},
    "chose_close_again": {"en": "→ Closed again.", "fr": "→ Refermé."},
    "abandon_use_buttons": {
        "en": "Nothing recorded: please answer with a button.",
        "fr": "Rien n'a été enregistré : répondez avec un bouton.",
    },
    "new_has_incomplete": {
        "en": "{code} already has a screening that ended INCOMPLETE on {date}: /resume "
        "{code} documents what was unknown (labs back). Start a new screening of {code} all "
        "the same?",
        "fr": "{code} a déjà un screening terminé INCOMPLET le {date} : /resume {code} "
        "documente ce qui était inconnu (résultats revenus). Commencer malgré tout un "
        "nouveau screening de {code} ?",
    },
    "button_resume": {"en": "▶ Resume {code}", "fr": "▶ Reprendre {code}"},
    "button_new_anyway": {"en": "New screening of {code}", "fr": "Nouveau screening de {code}"},
    "chose_new_anyway": {"en": "→ A new screening.", "fr": "→ Un nouveau screening."},
    "button_abandon": {"en": "Abandon {code}", "fr": "Abandonner {code}"},
    "button_keep_screening": {"en": "Keep it", "fr": "Le garder"},
    "abandoned": {"en": "Screening {code} abandoned.", "fr": "Screening {code} abandonné."},
    "not_abandoned": {
        "en": "OK, screening {code} stays open.",
        "fr": "D'accord, le screening {code} reste ouvert.",
    },
    "cancelled_code": {"en": "OK, no new screening.", "fr": "D'accord, pas de nouveau screening."},
    "nothing_to_cancel": {"en": "Nothing to cancel.", "fr": "Rien à annuler."},
    # -- errors ------------------------------------------------------------------------------
    "apology": {
        "en": "Sorry, something went wrong on my side; your last answer may not have been "
        "saved. /status shows where you are.",
        "fr": "Désolé, une erreur s'est produite de mon côté ; votre dernière réponse n'a "
        "peut-être pas été enregistrée. /status indique où vous en êtes.",
    },
    "protocol_unavailable": {
        "en": "This screening's protocol version is not loaded on this server: "
        "contact the coordinator.",
        "fr": "La version du protocole de ce screening n'est pas chargée sur ce serveur : "
        "contactez le coordinateur.",
    },
    # -- coordinators: summaries, review, exports (bot/coordinator.py) -------------------
    # "Label: value" lines; French puts a space before the colon.
    "coord_item": {"en": "{label}: {value}", "fr": "{label} : {value}"},
    "coord_summary_title": {
        "en": "📋 Screening <b>{code}</b> completed: <b>{verdict}</b>",
        "fr": "📋 Screening <b>{code}</b> terminé : <b>{verdict}</b>",
    },
    "coord_summary_title_open": {
        "en": "📋 Screening <b>{code}</b> in progress, so far: <b>{verdict}</b>",
        "fr": "📋 Screening <b>{code}</b> en cours, à ce stade : <b>{verdict}</b>",
    },
    # /review of an abandoned screening: its answers still read as a verdict, never a
    # completed one (a confirmed screening may have been reopened and abandoned since).
    "coord_summary_title_abandoned": {
        "en": "📋 Screening <b>{code}</b> ABANDONED (its answers read: {verdict})",
        "fr": "📋 Screening <b>{code}</b> ABANDONNÉ (ses réponses donnent : {verdict})",
    },
    "coord_protocol": {
        "en": "Protocol {protocol} v{version} · cohort: {cohort}",
        "fr": "Protocole {protocol} v{version} · cohorte : {cohort}",
    },
    "coord_investigator": {
        "en": "Investigator: {name}",
        "fr": "Investigateur : {name}",
    },
    "coord_failed": {
        "en": "Failing criteria:",
        "fr": "Critères en échec :",
    },
    "coord_unknown": {
        "en": "Unknown criteria:",
        "fr": "Critères inconnus :",
    },
    "coord_unknown_not_asked": {
        "en": "{n} other criteria not documented (screening ended at the first failed "
        "criterion): {ids}",
        "fr": "{n} autres critères non documentés (screening arrêté au premier critère en "
        "échec) : {ids}",
    },
    "coord_unknown_to_come": {
        "en": "{n} criteria still to document (screening in progress): {ids}",
        "fr": "{n} critères encore à documenter (screening en cours) : {ids}",
    },
    "coord_flagged": {
        "en": "Flagged for review:",
        "fr": "À vérifier :",
    },
    "coord_computed": {
        "en": "Computed values:",
        "fr": "Valeurs calculées :",
    },
    "coord_earliest": {
        "en": "Earliest start date: {date}",
        "fr": "Date de début au plus tôt : {date}",
    },
    "coord_eligible": {
        "en": "ELIGIBLE",
        "fr": "ÉLIGIBLE",
    },
    "coord_not_eligible": {
        "en": "NOT ELIGIBLE",
        "fr": "NON ÉLIGIBLE",
    },
    "coord_incomplete": {
        "en": "INCOMPLETE",
        "fr": "INCOMPLET",
    },
    "coord_confirm": {
        "en": "✅ Confirm",
        "fr": "✅ Valider",
    },
    "coord_query": {
        "en": "❓ Query",
        "fr": "❓ Question",
    },
    "coord_reopen": {
        "en": "↩️ Reopen",
        "fr": "↩️ Rouvrir",
    },
    "coord_confirmed": {
        "en": "✅ {code} confirmed by {name}.",
        "fr": "✅ {code} validé par {name}.",
    },
    # /review's list of decisions; one per ReviewAction ({name}: "Dr Martin (123456)").
    "coord_reviewed_confirm": {
        "en": "✅ confirmed by {name}",
        "fr": "✅ validé par {name}",
    },
    "coord_reviewed_query": {
        "en": "❓ queried by {name}",
        "fr": "❓ question de {name}",
    },
    "coord_reviewed_reopen": {
        "en": "↩️ reopened by {name}",
        "fr": "↩️ rouvert par {name}",
    },
    # A query prompt says "screening #{sid}" before any of the coordinator's own words:
    # their reply is matched to its screening by it.  Answers are numbered as in /review.
    "coord_query_prompt": {
        "en": "❓ Query on screening #{sid} ({code}): reply to this message with your question "
        "for the investigator. To point at an answer, start with its number, e.g. "
        "<code>#{n} is this the latest value?</code> (/review {code} numbers every answer).",
        "fr": "❓ Question sur le screening #{sid} ({code}) : répondez à ce message avec votre "
        "question pour l'investigateur. Pour désigner une réponse, commencez par son numéro, "
        "p. ex. <code>#{n} est-ce la dernière valeur ?</code> (/review {code} numérote "
        "toutes les réponses).",
    },
    "coord_query_answers": {
        "en": "Answers behind the failing, unknown or flagged criteria:",
        "fr": "Réponses en cause dans les critères en échec, inconnus ou à vérifier :",
    },
    "coord_query_placeholder": {
        "en": "#{n} your question",
        "fr": "#{n} votre question",
    },
    "coord_query_no_answer": {
        "en": "⚠️ {code} has no answer #{n} (its answers are #1 to #{last}): nothing was sent.",
        "fr": "⚠️ {code} n'a pas de réponse #{n} (ses réponses vont de #1 à #{last}) : rien "
        "n'a été envoyé.",
    },
    "coord_query_empty": {
        "en": "⚠️ Nothing was sent: write your question after the answer's number.",
        "fr": "⚠️ Rien n'a été envoyé : écrivez votre question après le numéro de la réponse.",
    },
    "plain_text_kept": {
        "en": "Your message, to copy:",
        "fr": "Votre message, à copier :",
    },
    "coord_query_kept": {
        "en": "Your question, to copy (tap it):",
        "fr": "Votre question, à copier (touchez-la) :",
    },
    "coord_query_sent": {
        "en": "❓ Query on {code} sent to the investigator.",
        "fr": "❓ Question sur {code} envoyée à l'investigateur.",
    },
    "coord_query_sent_about": {
        "en": "❓ Query on {code} about “{label}” sent to the investigator.",
        "fr": "❓ Question sur {code} à propos de « {label} » envoyée à l'investigateur.",
    },
    "coord_query_received": {
        "en": "❓ Coordinator {name} has a question on screening "
        "<b>{code}</b>{about}:\n\n{comment}",
        "fr": "❓ Le coordinateur {name} a une question sur le screening <b>{code}</b>{about} "
        ":\n\n{comment}",
    },
    # Under a query: how to answer it.  A reply to the query message goes to the
    # coordinator; it is never recorded as an answer of any screening.
    "coord_query_how_at": {
        "en": "↪️ Reply to this message to answer the coordinator in words, or press the "
        "button to review the answer.",
        "fr": "↪️ Répondez à ce message pour répondre au coordinateur par écrit, ou appuyez "
        "sur le bouton pour revoir la réponse.",
    },
    "coord_query_how": {
        "en": "↪️ Reply to this message to answer the coordinator in words (the screening "
        "is not changed).",
        "fr": "↪️ Répondez à ce message pour répondre au coordinateur par écrit (le "
        "screening n'est pas modifié).",
    },
    # The investigator's written reply to a query, as the coordinator receives it.
    "coord_response_received": {
        "en": "💬 {name} replied to your query on <b>{code}</b>{about}:\n\n{response}\n\n"
        "Your query: {comment}\n/review {code}",
        "fr": "💬 {name} a répondu à votre question sur <b>{code}</b>{about} :\n\n{response}"
        "\n\nVotre question : {comment}\n/review {code}",
    },
    "coord_response_about": {
        "en": " about “{label}”",
        "fr": " à propos de « {label} »",
    },
    # To the investigator, after their reply to a query message.
    "coord_response_sent": {
        "en": "💬 Your reply on <b>{code}</b> was sent {to}. It was not recorded as an "
        "answer: nothing in the screening changed.",
        "fr": "💬 Votre réponse sur <b>{code}</b> a été envoyée {to}. Elle n'a pas été "
        "enregistrée comme réponse : rien n'a changé dans le screening.",
    },
    "coord_to_person": {
        "en": "to {name}",
        "fr": "à {name}",
    },
    "coord_to_coordinators": {
        "en": "to the coordinators",
        "fr": "aux coordinateurs",
    },
    # A reply to a query message this version cannot match to its query (delivered
    # before message ids were kept): refused, never read as an answer.
    "coord_response_unmatched": {
        "en": "⚠️ Nothing was recorded and nothing was sent: I cannot tell which query that "
        "message is. Contact the coordinator directly, or use the query's button.",
        "fr": "⚠️ Rien n'a été enregistré ni envoyé : je ne retrouve pas la question de ce "
        "message. Contactez directement le coordinateur, ou utilisez le bouton de la question.",
    },
    "coord_query_no_question": {
        "en": "This query points at no answer: reply to the query message to answer it. "
        "Nothing changed.",
        "fr": "Cette question ne désigne aucune réponse : répondez au message de la question. "
        "Rien n'a changé.",
    },
    "coord_query_confirmed": {
        "en": "{code} was confirmed by a coordinator after this query: it cannot be reopened "
        "from here. Nothing changed; reply to the query message to answer in words.",
        "fr": "{code} a été validé par un coordinateur après cette question : il ne peut plus "
        "être rouvert d'ici. Rien n'a changé ; répondez au message de la question.",
    },
    "coord_investigator_inactive": {
        "en": "⚠️ The investigator {name} is deactivated: nothing was sent and nothing "
        "changed on {code}. Contact the unit another way, or ask an admin to restore "
        "their access.",
        "fr": "⚠️ L'investigateur {name} est désactivé : rien n'a été envoyé et rien n'a "
        "changé sur {code}. Contactez le centre autrement, ou demandez à un administrateur "
        "de rétablir son accès.",
    },
    "coord_about": {
        "en": " about “{label}” (current answer: {current})",
        "fr": " à propos de « {label} » (réponse actuelle : {current})",
    },
    "coord_reopen_at": {
        "en": "↩️ Reopen at “{label}”",
        "fr": "↩️ Rouvrir à « {label} »",
    },
    "coord_reopened_by": {
        "en": "↩️ Coordinator {name} reopened screening <b>{code}</b> at “{label}”: answer it "
        "again, then any other answer the bot asks you to review.",
        "fr": "↩️ Le coordinateur {name} a rouvert le screening <b>{code}</b> à « {label} » : "
        "répondez-y à nouveau, puis aux autres réponses que le bot vous redemande.",
    },
    "coord_reopened": {
        "en": "↩️ {code} reopened at “{label}”.",
        "fr": "↩️ {code} rouvert à « {label} ».",
    },
    "coord_reopened_typed_here": {
        "en": "↩️ {code} reopened at “{label}”: typed answers now go to {code} (▶ shows "
        "its question).",
        "fr": "↩️ {code} rouvert à « {label} » : les réponses tapées vont maintenant à {code} "
        "(▶ affiche sa question).",
    },
    "coord_continue": {
        "en": "▶ Continue {code}",
        "fr": "▶ Continuer {code}",
    },
    "coord_newer_summary": {
        "en": "Screening {code} was completed again since this summary: use the newest one "
        "(or /review {code}). Nothing changed.",
        "fr": "Le screening {code} a été terminé de nouveau depuis ce résumé : utilisez le "
        "plus récent (ou /review {code}). Rien n'a changé.",
    },
    "coord_not_completed": {
        "en": "This screening is not completed any more.",
        "fr": "Ce screening n'est plus terminé.",
    },
    "coord_not_yours": {
        "en": "This screening is not yours.",
        "fr": "Ce screening n'est pas le vôtre.",
    },
    "coord_query_settled": {
        "en": "This query was answered: the screening was completed again since. Nothing changed.",
        "fr": "Cette question a reçu sa réponse : le screening a été terminé de nouveau "
        "depuis. Rien n'a changé.",
    },
    "coord_abandoned": {
        "en": "This screening was abandoned.",
        "fr": "Ce screening a été abandonné.",
    },
    "coord_other_open": {
        "en": "The patient has another open screening: finish or abandon it first.",
        "fr": "Le patient a un autre screening ouvert : terminez-le ou abandonnez-le.",
    },
    "coord_deactivated": {
        "en": "Your access was revoked (user id {user_id}): ask the trial unit's admin.",
        "fr": "Votre accès a été retiré (identifiant {user_id}) : voyez avec "
        "l'administrateur de l'unité.",
    },
    "coord_abandoned_since": {
        "en": "{code} was abandoned by its investigator: nothing to review.",
        "fr": "{code} a été abandonné par son investigateur : rien à revoir.",
    },
    "coord_refused": {
        "en": "Coordinators only.",
        "fr": "Réservé aux coordinateurs.",
    },
    "coord_no_pending": {
        "en": "Nothing waits for review.",
        "fr": "Rien n'attend de revue.",
    },
    "coord_pending": {
        "en": "Completed, not yet reviewed ({n}):",
        "fr": "Terminés, pas encore revus ({n}) :",
    },
    "coord_reply_other_screening": {
        "en": "This replies to a message about {code}, which is not the screening in "
        "progress: nothing was recorded. /resume {code}, then type the answer.",
        "fr": "Ce message répond à un message sur {code}, qui n'est pas le screening en "
        "cours : rien n'a été enregistré. /resume {code}, puis tapez la réponse.",
    },
    "coord_export_unloaded_csv": {
        "en": "⚠️ {n} screening(s) in this export were begun on protocol {protocol} "
        "(sha256 {sha}…), a file this bot no longer has loaded: the criterion columns of "
        "those not completed are empty.",
        "fr": "⚠️ Dans cet export, {n} screening(s) commencé(s) sur le protocole "
        "{protocol} (sha256 {sha}…), un fichier que ce bot n'a plus chargé : les colonnes "
        "de critères de ceux non terminés sont vides.",
    },
    "coord_export_unloaded_fhir": {
        "en": "⚠️ {n} screening(s) in this export were begun on protocol {protocol} "
        "(sha256 {sha}…), a file this bot no longer has loaded: their answers are typed "
        "from the stored values and carry no question text.",
        "fr": "⚠️ Dans cet export, {n} screening(s) commencé(s) sur le protocole "
        "{protocol} (sha256 {sha}…), un fichier que ce bot n'a plus chargé : leurs "
        "réponses sont typées d'après les valeurs enregistrées, sans texte de question.",
    },
    "coord_abandoned_notice": {
        "en": "🗑 {name} abandoned screening <b>{code}</b>, which had been completed: its "
        "verdict no longer counts (/review {code} shows its history).",
        "fr": "🗑 {name} a abandonné le screening <b>{code}</b>, qui avait été terminé : son "
        "verdict ne compte plus (/review {code} montre son historique).",
    },
    "coord_protocol_not_loaded": {
        "en": "This screening's protocol file is not loaded on this server (changed without "
        "a new version?): it cannot be reopened. Nothing changed; tell the administrator.",
        "fr": "Le fichier de protocole de ce screening n'est pas chargé sur ce serveur "
        "(modifié sans nouvelle version ?) : il ne peut pas être rouvert. Rien n'a changé ; "
        "prévenez l'administrateur.",
    },
    "coord_response_reply_how": {
        "en": "Nothing was sent: to ask {code}'s investigator again, press Query under "
        "/review {code} (or under its summary).",
        "fr": "Rien n'a été envoyé : pour interroger à nouveau l'investigateur de {code}, "
        "appuyez sur Question sous /review {code} (ou sous son résumé).",
    },
    "coord_query_on_confirmed": {
        "en": "⚠️ Already confirmed by {name} ({when}): if the investigator changes an "
        "answer, the screening is reopened and its verdict comes back for review.",
        "fr": "⚠️ Déjà validé par {name} ({when}) : si l'investigateur modifie une réponse, "
        "le screening est rouvert et son verdict revient en revue.",
    },
    "coord_review_usage": {
        "en": "Usage: /review PATIENT_CODE (or /review #NUMBER, as /pending lists it)",
        "fr": "Usage : /review CODE_PATIENT (ou /review #NUMÉRO, comme /pending l'indique)",
    },
    "coord_not_found": {
        "en": "No screening with code {code}.",
        "fr": "Aucun screening avec le code {code}.",
    },
    "coord_history": {
        "en": "Answer history:",
        "fr": "Historique des réponses :",
    },
    "coord_changed": {
        "en": "changed; was “{raw}”",
        "fr": "modifiée ; avant « {raw} »",
    },
    "coord_after_reopening": {"en": "after a reopening", "fr": "après réouverture"},
    "coord_after_back": {"en": "after /back", "fr": "après /back"},
    "coord_replaced_by": {"en": "→ replaced by #{n}", "fr": "→ remplacée par #{n}"},
    "coord_reviews": {
        "en": "Reviews and events:",
        "fr": "Revues et événements :",
    },
    # /review's events after completion ({name}: "Dr Martin (123456)"); "↳" lines settle
    # the query above them.
    "coord_event_response": {
        "en": "💬 reply by {name}: {text}",
        "fr": "💬 réponse de {name} : {text}",
    },
    "coord_event_reopened": {
        "en": "↩️ reopened by {name} at “{label}”",
        "fr": "↩️ rouvert par {name} à « {label} »",
    },
    "coord_event_kept": {
        "en": "👍 kept by {name}: {label}",
        "fr": "👍 conservée par {name} : {label}",
    },
    "coord_event_changed": {
        "en": "✏️ changed by {name}: {label}: {old} → {new}",
        "fr": "✏️ modifiée par {name} : {label} : {old} → {new}",
    },
    "coord_event_completed": {
        "en": "🏁 completed by {name}: {verdict}",
        "fr": "🏁 terminé par {name} : {verdict}",
    },
    "coord_event_abandoned": {
        "en": "🗑 abandoned by {name}",
        "fr": "🗑 abandonné par {name}",
    },
    "coord_export_usage": {
        "en": "Usage: /export [csv|json|fhir] [DD/MM/YYYY]: the screenings changed since "
        "that date (UTC), all by default.",
        "fr": "Usage : /export [csv|json|fhir] [JJ/MM/AAAA] : les screenings modifiés depuis "
        "cette date (UTC), tous par défaut.",
    },
    "coord_export_caption_one": {
        "en": "1 screening, {fmt}: {period}",
        "fr": "1 screening, {fmt} : {period}",
    },
    "coord_export_caption": {
        "en": "{n} screenings, {fmt}: {period}",
        "fr": "{n} screenings, {fmt} : {period}",
    },
    "coord_log_usage": {
        "en": "Usage: /log [DD/MM/YYYY [DD/MM/YYYY]]: the screenings started from the first "
        "date (to the second, included; UTC), all by default. Nothing was shown:",
        "fr": "Usage : /log [JJ/MM/AAAA [JJ/MM/AAAA]] : les screenings commencés à partir de "
        "la première date (jusqu'à la seconde incluse ; UTC), tous par défaut. Rien n'a été "
        "affiché :",
    },
    "coord_not_a_date": {
        "en": "“{arg}” is not a date.",
        "fr": "« {arg} » n'est pas une date.",
    },
    "coord_end_before_start": {
        "en": "the end date {end} is before the start date {start}.",
        "fr": "la date de fin {end} est antérieure à la date de début {start}.",
    },
    "coord_too_many_dates": {
        "en": "at most two dates (from, to).",
        "fr": "deux dates au plus (du, au).",
    },
    # The period a /log or /export covers, by the screenings' start (creation) date.
    "coord_period_all": {
        "en": "all screenings",
        "fr": "tous les screenings",
    },
    "coord_period_since": {
        "en": "screenings started from {start}",
        "fr": "screenings commencés à partir du {start}",
    },
    # /export's date: incremental, as `screenbot export --since` (changed since).
    "coord_period_changed": {
        "en": "screenings changed since {start}",
        "fr": "screenings modifiés depuis le {start}",
    },
    "coord_period_range": {
        "en": "screenings started from {start} to {end}",
        "fr": "screenings commencés du {start} au {end}",
    },
    "coord_log_heading": {
        "en": "📊 Screening log, {period}:",
        "fr": "📊 Journal de screening, {period} :",
    },
    "coord_log_cohort": {
        "en": "Cohort",
        "fr": "Cohorte",
    },
    "coord_log_screened": {
        "en": "Screened",
        "fr": "Screenés",
    },
    "coord_log_line": {"en": "{head}: {outcomes}", "fr": "{head} : {outcomes}"},
    "coord_log_total": {
        "en": "Total",
        "fr": "Total",
    },
    "coord_log_no_cohort": {
        "en": "(no cohort)",
        "fr": "(sans cohorte)",
    },
    "coord_outcome_eligible": {
        "en": "Eligible",
        "fr": "Éligibles",
    },
    "coord_outcome_not_eligible": {
        "en": "Not eligible",
        "fr": "Non éligibles",
    },
    "coord_outcome_incomplete": {
        "en": "Incomplete",
        "fr": "Incomplets",
    },
    "coord_outcome_in_progress": {
        "en": "In progress",
        "fr": "En cours",
    },
    "coord_outcome_abandoned": {
        "en": "Abandoned",
        "fr": "Abandonnés",
    },
    "coord_chart_patients": {
        "en": "patients",
        "fr": "patients",
    },
    "coord_chart_empty": {
        "en": "no screenings",
        "fr": "aucun screening",
    },
    "coord_chart_failing": {
        "en": "Most frequent failing criteria",
        "fr": "Critères en échec les plus fréquents",
    },
    "coord_chart_failing_axis": {
        "en": "not-eligible patients",
        "fr": "patients non éligibles",
    },
    "coord_chart_no_failed": {
        "en": "no failed criteria",
        "fr": "aucun critère en échec",
    },
    "coord_export_too_large": {
        "en": "{name} is {mb} MB even compressed: over Telegram's 50 MB limit for bots. "
        "Run on the server: {command}",
        "fr": "{name} fait {mb} Mo même compressé : au-delà de la limite de 50 Mo de "
        "Telegram pour les bots. Lancez sur le serveur : {command}",
    },
    "coord_log_caption_one": {
        "en": "Screening log: 1 patient screened",
        "fr": "Journal de screening : 1 patient",
    },
    "coord_log_caption": {
        "en": "Screening log: {n} patients screened",
        "fr": "Journal de screening : {n} patients",
    },
    "coord_status": {
        "en": "Status: {status}",
        "fr": "Statut : {status}",
    },
    "coord_status_in_progress": {
        "en": "in progress",
        "fr": "en cours",
    },
    "coord_status_completed": {
        "en": "completed",
        "fr": "terminé",
    },
    "coord_status_abandoned": {
        "en": "abandoned",
        "fr": "abandonné",
    },
    "coord_no_protocol": {
        "en": "(protocol version not loaded: current statuses unavailable)",
        "fr": "(version du protocole non chargée : statuts actuels indisponibles)",
    },
    "coord_help": {
        "en": "Coordinator commands:\n"
        "/pending – completed screenings not yet reviewed\n"
        "/review CODE – a screening's summary and answer history, with the review buttons\n"
        "/log [DD/MM/YYYY [DD/MM/YYYY]] – the screening log: table and chart\n"
        "/export [csv|json|fhir] [DD/MM/YYYY] – the export files (all three by default)\n"
        "Times are UTC.",
        "fr": "Commandes du coordinateur :\n"
        "/pending – screenings terminés pas encore revus\n"
        "/review CODE – résumé et historique des réponses d'un screening, avec les boutons "
        "de revue\n"
        "/log [JJ/MM/AAAA [JJ/MM/AAAA]] – le journal de screening : tableau et graphique\n"
        "/export [csv|json|fhir] [JJ/MM/AAAA] – les fichiers d'export (les trois par défaut)\n"
        "Les heures sont en UTC.",
    },
    # -- coordinators: QA round 3 (bot/coordinator.py) -----------------------------------
    # A second Confirm of the same completion (double tap, redelivery, another
    # coordinator) changes nothing; a callback notice (plain text, under 190 characters).
    "coord_already_confirmed": {
        "en": "{code} was already confirmed by {name} ({when}). Nothing changed.",
        "fr": "{code} a déjà été validé par {name} ({when}). Rien n'a changé.",
    },
    "coord_already_confirmed_you": {
        "en": "You already confirmed {code} ({when}). Nothing changed.",
        "fr": "Vous avez déjà validé {code} ({when}). Rien n'a changé.",
    },
    # The query prompt of the coordinator who confirmed the completion themselves.
    "coord_query_on_confirmed_you": {
        "en": "⚠️ You confirmed it ({when}): if the investigator changes an answer, the "
        "screening is reopened and its verdict comes back for review.",
        "fr": "⚠️ Vous l'avez validé ({when}) : si l'investigateur modifie une réponse, le "
        "screening est rouvert et son verdict revient en revue.",
    },
    # A reply to a query prompt after the screening was reopened or abandoned (HTML).
    "coord_query_after_reopen": {
        "en": "⚠️ {code} was reopened since: nothing was sent and nothing recorded. Its "
        "new summary comes when it is completed again (/review {code} shows where it is).",
        "fr": "⚠️ {code} a été rouvert depuis : rien n'a été envoyé ni enregistré. Son "
        "nouveau résumé viendra quand il sera de nouveau terminé (/review {code} montre "
        "où il en est).",
    },
    "coord_query_after_abandon": {
        "en": "⚠️ {code} was abandoned since: nothing was sent and nothing recorded "
        "(/review {code} shows its history).",
        "fr": "⚠️ {code} a été abandonné depuis : rien n'a été envoyé ni enregistré "
        "(/review {code} montre son historique).",
    },
    # /pending: a queried screening stays listed until confirmed, marked.
    "coord_pending_query_open": {
        "en": "❓ query open",
        "fr": "❓ question en attente",
    },
    "coord_pending_query_answered": {
        "en": "💬 answered in words",
        "fr": "💬 réponse écrite reçue",
    },
    # A coordinator's typed line that replies to nothing, with no screening under way.
    "coord_plain_text_hint": {
        "en": "This message was not sent to anyone. To ask an investigator a question, "
        "press ❓ Query under the screening's summary (or under /review CODE): the bot "
        "then asks for your question; send it as a reply to that message (Telegram's "
        "Reply). /pending lists the screenings waiting for review; /new screens a patient.",
        "fr": "Ce message n'a été envoyé à personne. Pour poser une question à un "
        "investigateur, appuyez sur ❓ Question sous le résumé du screening (ou sous "
        "/review CODE) : le bot vous demande alors votre question ; envoyez-la en réponse "
        "à ce message-là (Répondre, dans Telegram). /pending liste les screenings à "
        "revoir ; /new commence un screening.",
    },
    # /export with arguments it cannot read: the usage, then what was wrong.
    "coord_export_usage_why": {
        "en": "Usage: /export [csv|json|fhir] [DD/MM/YYYY]: the screenings changed since "
        "that date (UTC), all by default. Nothing was exported:",
        "fr": "Usage : /export [csv|json|fhir] [JJ/MM/AAAA] : les screenings modifiés depuis "
        "cette date (UTC), tous par défaut. Rien n'a été exporté :",
    },
    "coord_export_bad_format": {
        "en": "“{arg}” is not an export format (csv, json or fhir).",
        "fr": "« {arg} » n'est pas un format d'export (csv, json ou fhir).",
    },
    "coord_export_one_date": {
        "en": "one date at most (the screenings changed since then).",
        "fr": "une seule date au plus (les screenings modifiés depuis).",
    },
    "coord_export_future": {
        "en": "📭 Nothing changed since {start}: that date is still to come. No file sent.",
        "fr": "📭 Rien n'a changé depuis le {start} : cette date est à venir. Aucun fichier "
        "envoyé.",
    },
    "coord_not_found_number": {
        "en": "No screening #{n}.",
        "fr": "Aucun screening #{n}.",
    },
    # /review: a decision with its comment ("❓ queried by … [ECOG]: is it 2?").
    "coord_review_comment": {
        "en": "{text}: {comment}",
        "fr": "{text} : {comment}",
    },
    # -- reminders (bot/reminders.py) ----------------------------------------------------
    "reminder_title": {
        "en": "⏰ Reminder: screening <b>{code}</b> has been waiting for {days} days.",
        "fr": "⏰ Rappel : le screening <b>{code}</b> attend depuis {days} jours.",
    },
    "reminder_pending": {
        "en": "Still to answer:",
        "fr": "Reste à renseigner :",
    },
    "reminder_unknown": {
        "en": "Answered “unknown”:",
        "fr": "Répondu « inconnu » :",
    },
    # /resume alone offers only screenings in progress, not one that ended incomplete,
    # and asks which when several are open: the code is what reaches this one.
    # The command itself, to copy: "followed by its patient code" had to be worked out.
    "reminder_resume": {
        "en": "To continue it, send /resume {code}",
        "fr": "Pour le poursuivre, envoyez /resume {code}",
    },
    # Every question answered, yet unsettled: e.g. labs too old for the planned start.
    "reminder_nothing": {
        "en": "Every question has an answer, but the screening is not settled. To check "
        "and complete it, send /resume {code}",
        "fr": "Toutes les questions ont une réponse, mais le screening n'est pas conclu. "
        "Pour le vérifier et le terminer, envoyez /resume {code}",
    },
}

# Bot menu commands (set_my_commands), per language.
COMMANDS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (
        ("new", "Start a screening"),
        ("resume", "Continue a screening"),
        ("list", "My screenings"),
        ("back", "Previous question"),
        ("unknown", "Answer 'unknown'"),
        ("status", "Where am I?"),
        ("summary", "Criteria so far"),
        ("cancel", "Cancel"),
        ("lang", "Language"),
        ("help", "Help"),
    ),
    "fr": (
        ("new", "Nouveau screening"),
        ("resume", "Reprendre un screening"),
        ("list", "Mes screenings"),
        ("back", "Question précédente"),
        ("unknown", "Répondre « inconnu »"),
        ("status", "Où en suis-je ?"),
        ("summary", "Critères à ce stade"),
        ("cancel", "Annuler"),
        ("lang", "Langue"),
        ("help", "Aide"),
    ),
}


# The coordinator's commands (bot/coordinator.py registers one handler per name), for the
# menus of coordinators' and admins' own chats, after COMMANDS.
COORDINATOR_COMMANDS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (
        ("pending", "Screenings awaiting review"),
        ("review", "A screening's summary and history"),
        ("log", "Screening log"),
        ("export", "Export files"),
    ),
    "fr": (
        ("pending", "Screenings à revoir"),
        ("review", "Résumé et historique d'un screening"),
        ("log", "Journal de screening"),
        ("export", "Fichiers d'export"),
    ),
}


def t(key: str, lang: str, **params: Any) -> str:
    """Render a catalogue entry; an unknown language falls back to English."""
    entry = CATALOGUE[key]
    template = entry.get(lang) or entry["en"]
    return template.format(**params) if params else template


def language_from(code: str | None, default: str = "en") -> str:
    """Telegram's language_code ('fr', 'fr-FR', 'en-GB'…) to a supported language."""
    if code:
        base = code.split("-")[0].split("_")[0].lower()
        if base in LANGUAGES:
            return base
    return default if default in LANGUAGES else "en"


def language_of(chosen: str | None, telegram_code: str | None, default: str = "en") -> str:
    """The language to address a user in: the one they chose (``users.language``), else
    their Telegram client's, else the default.  Investigators and coordinators alike."""
    if chosen in LANGUAGES:
        return str(chosen)
    return language_from(telegram_code, default)
