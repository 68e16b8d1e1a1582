"""The dialogs package's exception root.

Everything the engine raises derives from :class:`DialogError`, so callers (the bot, the
CLI) can catch one type.  A *bad answer* is not an exception: it is an
:class:`~dialogs.answers.AnswerError` value returned to the caller.
"""

from __future__ import annotations


class DialogError(Exception):
    """Root of every error raised by ``dialogs``."""


class ProtocolError(DialogError):
    """A protocol file is invalid; the message names the file, the item ID and the problem."""

    def __init__(self, path: str, item: str | None, problem: str) -> None:
        self.path = path
        self.item = item
        self.problem = problem
        where = f"{path}: {item}: " if item else f"{path}: "
        super().__init__(where + problem)


class ExpressionError(DialogError):
    """A rule or condition could not be evaluated (a protocol bug, found by ``protocol check``)."""


class ConversationError(DialogError):
    """The caller asked for something the conversation's state does not allow."""


class RecordError(DialogError):
    """An ``evaluate`` record value does not parse; names the question."""

    def __init__(self, question_id: str, message: str) -> None:
        self.question_id = question_id
        self.message = message
        super().__init__(f"{question_id}: {message}")
