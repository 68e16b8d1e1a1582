"""The bot package's exceptions: everything raised on purpose in ``bot`` derives from BotError."""

from __future__ import annotations

NOTE_PREFIX = "screening_id="


class BotError(Exception):
    """Root of every error raised on purpose by the ``bot`` package."""


class ConfigurationError(BotError):
    """Settings that cannot run (e.g. webhook mode without a URL)."""


class CallbackDataError(BotError, ValueError):
    """Callback data that cannot be built within Telegram's 64-byte limit."""


def tag_screening(exc: BaseException, screening_id: int | None) -> None:
    """Attach the screening id to an exception (as a note) for the global error handler."""
    if screening_id is not None and screening_of(exc) is None:
        exc.add_note(f"{NOTE_PREFIX}{screening_id}")


def screening_of(exc: BaseException | None) -> int | None:
    """The screening id an exception was tagged with, if any."""
    if exc is None:
        return None
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, str) and note.startswith(NOTE_PREFIX):
            try:
                return int(note[len(NOTE_PREFIX) :])
            except ValueError:
                return None
    return None
