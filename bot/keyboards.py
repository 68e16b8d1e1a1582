"""Buttons: callback data (what a button names) and inline keyboard layout.

Callback data names everything needed to refuse a stale or forged press without any
server-side memory: ``a|<screening>|<question>|<value>``.  Telegram limits it to 64
bytes; a choice value too long for that is sent as its index (``#2``).

Prefixes used by the investigator flow (others are free for the coordinator features):
``a`` answer, ``k`` keep the current answer, ``e`` end after a failed criterion,
``d`` document the remaining criteria, ``x`` confirm/refuse abandon, ``r`` resume,
``l`` language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

from bot.errors import CallbackDataError

MAX_CALLBACK_BYTES = 64
FLOW_PREFIXES = frozenset("akedxrlsn")
UNKNOWN_VALUE = "?"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class CallbackData:
    """A parsed press: kind (prefix), screening id, question id and value when present."""

    kind: str
    screening_id: int | None = None
    question_id: str | None = None
    value: str | None = None


def _checked(data: str) -> str:
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise CallbackDataError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def answer_data(screening_id: int, question_id: str, value: str, index: int | None) -> str:
    data = f"a|{screening_id}|{question_id}|{value}"
    if len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES or index is None:
        return _checked(data)
    return _checked(f"a|{screening_id}|{question_id}|#{index}")


def keep_data(screening_id: int, question_id: str) -> str:
    return _checked(f"k|{screening_id}|{question_id}")


def screening_data(kind: str, screening_id: int, extra: str | None = None) -> str:
    if kind not in FLOW_PREFIXES:
        raise CallbackDataError(f"unknown button kind {kind!r}")
    return _checked(f"{kind}|{screening_id}" + (f"|{extra}" if extra else ""))


def language_data(lang: str) -> str:
    return _checked(f"l|{lang}")


def parse_data(data: str | None) -> CallbackData | None:
    """Parse callback data; None for anything that is not a well-formed flow button."""
    if not data or len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split("|", 3)
    kind = parts[0]
    if kind not in FLOW_PREFIXES:
        return None
    if kind == "l":
        return CallbackData("l", value=parts[1]) if len(parts) == 2 else None
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    sid = int(parts[1])
    if kind == "a":
        return CallbackData("a", sid, parts[2], parts[3]) if len(parts) == 4 else None
    if kind == "k":
        return CallbackData("k", sid, parts[2]) if len(parts) == 3 else None
    if kind == "x":
        return CallbackData("x", sid, value=parts[2]) if len(parts) == 3 else None
    return CallbackData(kind, sid) if len(parts) == 2 else None


def layout(buttons: Sequence[Button], *, width: int = 2, max_label: int = 18) -> Keyboard:
    """Rows for a phone: short labels two per row, long ones alone."""
    rows: list[tuple[Button, ...]] = []
    row: list[Button] = []
    for b in buttons:
        if len(b.label) > max_label:
            if row:
                rows.append(tuple(row))
                row = []
            rows.append((b,))
            continue
        row.append(b)
        if len(row) == width:
            rows.append(tuple(row))
            row = []
    if row:
        rows.append(tuple(row))
    return tuple(rows)


def to_markup(keyboard: Keyboard) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in keyboard]
    )


def code_prompt_markup(placeholder: str) -> ForceReply:
    """The patient-code question: the client opens a reply, so the code comes back as one."""
    return ForceReply(selective=True, input_field_placeholder=placeholder)
