"""The dialog's finite-state machine, built once per protocol version with ``transitions``.

States are the protocol's questions plus the terminal ``complete``.  One Machine is shared
by every conversation of that protocol version: a conversation is attached with its saved
state name (``add_model(initial=...)``) for as long as the caller works on it, then
detached (``remove_model``), so no machine is ever built per chat.

Triggers:
- ``advance(answer=...)`` records the parsed answer (``prepare_event``) and moves to the
  nearest later question that applies and waits for an answer (none yet, or one the
  planned start date made invalid), or to ``complete``.  The candidate transitions are
  tried nearest first, each guarded by :class:`_Pending`.  Only later questions are
  candidates, so ``advance`` always moves forward: keeping an invalid answer as it is
  moves on past it instead of asking it again forever.
- ``back`` moves to the nearest earlier question that applies and was answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from transitions import EventData, Machine, State

from dialogs.values import Answer

if TYPE_CHECKING:
    from dialogs.conversation import Conversation

COMPLETE = "complete"


class _Pending:
    """Guard: the target question applies and still waits for an answer.

    An answer the planned start date made invalid waits too: skipping it because it is
    recorded would leave the investigator unaware that a criterion now reads it as unknown.
    """

    def __init__(self, question_id: str) -> None:
        self.question_id = question_id

    def __call__(self, event: EventData) -> bool:
        conv = cast("Conversation", event.model)
        return conv.waits(self.question_id)


class _Answered:
    """Guard for ``back``: the target applies and has an answer to revisit."""

    def __init__(self, question_id: str) -> None:
        self.question_id = question_id

    def __call__(self, event: EventData) -> bool:
        conv = cast("Conversation", event.model)
        return self.question_id in conv.answers and conv.applies(self.question_id) is True


def _record_answer(event: EventData) -> None:
    answer: Any = event.kwargs.get("answer")
    if isinstance(answer, Answer):
        conv = cast("Conversation", event.model)
        conv.record(answer)


class _SharedMachine(Machine):
    """A Machine that binds no per-state helpers to the models it drives.

    Conversations are attached for every update, and ``Machine.add_model`` binds an
    ``is_<state>`` helper and probes ``on_enter_/on_exit_<state>`` methods for each of the
    protocol's states: most of the attach cost, for helpers nothing here uses (the
    dialog reads ``conv.state`` and declares no per-state callbacks on the model).
    Triggers (``trigger``, ``advance``, ``back``) are still bound as usual; their
    ``may_advance`` / ``may_back`` probes are not (nothing asks them).
    """

    def _add_model_to_state(self, state: State, model: object) -> None:
        del state, model

    def _add_may_transition_func_for_trigger(self, trigger: str, model: object) -> None:
        del trigger, model


def build_machine(order: tuple[str, ...]) -> Machine:
    """The shared machine for one protocol version's question order."""
    states = [*order, COMPLETE]
    machine = _SharedMachine(
        model=[],
        states=states,
        initial=order[0],
        auto_transitions=False,
        send_event=True,
        prepare_event=[_record_answer],
        ignore_invalid_triggers=False,
    )
    for i, source in enumerate(order):
        for target in order[i + 1 :]:
            machine.add_transition("advance", source, target, conditions=[_Pending(target)])
        machine.add_transition("advance", source, COMPLETE)
    for i, source in enumerate(states):
        for target in reversed(order[:i]):
            machine.add_transition("back", source, target, conditions=[_Answered(target)])
    return machine
