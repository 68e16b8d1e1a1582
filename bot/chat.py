"""``screenbot chat``: the same screening flow in a terminal (same commands, engine, storage).

:class:`ChatSession` is the pure core: text lines in, output lines out.  Buttons are shown
numbered; when a question waits for a button, typing its number (or its label) presses
it; when a question waits for typed text, digits are the answer and an empty line keeps
the current answer after /back.  As on Telegram, a pressed message's buttons go away, and
/list leaves the question on screen answerable: its ▶ buttons are shown as the
``/resume CODE`` commands that do the same.  ``/quit`` leaves.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from bot.errors import ConfigurationError
from bot.keyboards import Button, parse_data
from bot.screening_flow import Incoming, Outcome, ScreeningFlow
from bot.settings import Settings
from bot.texts import t
from storage import Store

LOCAL_USER_ID = -1  # Telegram user ids are positive: the terminal user cannot clash with one
LOCAL_USER_NAME = "local investigator"
# Who granted the terminal user its access, in the access history: the chat itself.
LOCAL_USER_ACTOR = "screenbot chat (local user)"
QUIT = frozenset({"/quit", "/exit", "/q"})
# Commands that show something beside the question, or refuse an answer to it, and leave
# the question itself as it was (typed lines that are refused do the same).
KEEPS_QUESTION = ("/help", "/summary", "/unknown")
# Commands whose buttons stand beside the question rather than ask one: shown as the
# command that does the same, so that a number typed next still answers the question
# (on Telegram the question keeps its own buttons and a typed 2 answers it).
SHOWN_AS_COMMANDS = ("/list",)


def ensure_local_user(store: Store, user_id: int, lang: str | None) -> None:
    """The default terminal user is an investigator created on first use; others must exist.

    Only :data:`LOCAL_USER_ID` (never a Telegram id) is created here: creating an id given
    with ``--user-id`` would silently grant that Telegram account access to the bot,
    which only ``screenbot users add`` may do.  Raises :class:`ConfigurationError` for an
    unregistered or deactivated explicit id, with the command that fixes it.
    """
    user = store.get_user(user_id)
    if user is None:
        if user_id != LOCAL_USER_ID:
            raise ConfigurationError(
                f"user {user_id} is not registered: "
                f"screenbot users add {user_id} --role investigator"
            )
        store.add_user(
            user_id, "investigator", LOCAL_USER_NAME, language=lang, actor=LOCAL_USER_ACTOR
        )
    elif not user.active and user_id != LOCAL_USER_ID:
        raise ConfigurationError(
            f"user {user_id} is deactivated: screenbot users activate {user_id}"
        )
    elif lang and user.language != lang:
        store.set_language(user_id, lang)


class ChatSession:
    def __init__(self, flow: ScreeningFlow, user_id: int = LOCAL_USER_ID) -> None:
        self.flow = flow
        self.user_id = user_id
        self.buttons: tuple[Button, ...] = ()
        self.typed = True
        self.keep: Button | None = None
        # Buttons pressed by typing their label only: under a typed question's refusal,
        # or under a reply another one follows (/status, then the question), where a
        # number is the question's.
        self.by_label: dict[str, str] = {}
        self.lang = "en"  # the user's, as of the last reply

    def start(self) -> list[str]:
        return self.feed("/start")

    def feed(self, line: str) -> list[str]:
        text = line.strip()
        data = self._pressed(text)
        if data is None and not text:
            return ["", t("empty_line", self.lang)]
        if data is not None:
            incoming = Incoming(self.user_id, data=data)
        else:
            incoming = Incoming(self.user_id, text=text, choices_numbered=True)
        out = self.flow.handle(incoming)
        self.lang = out.lang
        as_commands = data is None and _command(text) in SHOWN_AS_COMMANDS
        if as_commands or (data is None and self._same_question(text, out)):
            # A refused answer (or /help, /summary, /list) leaves the question on screen
            # as it was: its numbered buttons and Enter-to-keep still work, as on
            # Telegram, where the question's buttons stay under it.
            kept = (self.buttons, self.typed, self.keep, self.by_label)
            lines = self._render(out, as_commands=as_commands)
            self.buttons, self.typed, self.keep, self.by_label = kept
            return lines
        if data is not None and out.recorded and not out.replies:
            # The press closed its message (an abandon): on Telegram its buttons are gone.
            self.buttons, self.typed, self.keep, self.by_label = (), True, None, {}
        return self._render(out)

    @staticmethod
    def _same_question(text: str, out: Outcome) -> bool:
        """Whether a typed line left the current question as it was: nothing recorded
        and no new buttons or code prompt shown (an error message, help, a summary)."""
        command = _command(text)
        if command not in (None, *KEEPS_QUESTION):
            return False
        return out.recorded is None and not any(r.keyboard or r.ask_code for r in out.replies)

    def _pressed(self, text: str) -> str | None:
        if not text:
            return self.keep.data if self.keep else None
        if text.startswith("/"):
            return None
        # (A digit string thousands long is no button number, and int() refuses it.)
        if (
            not self.typed
            and text.isdecimal()
            and len(text) < 4
            and 1 <= int(text) <= len(self.buttons)
        ):
            return self.buttons[int(text) - 1].data
        folded = text.casefold()
        for b in self.buttons:
            if b.label.casefold() == folded and (not self.typed or b is self.keep):
                return b.data
        return self.by_label.get(folded)

    def _render(self, out: Outcome, *, as_commands: bool = False) -> list[str]:
        lines: list[str] = []
        if out.recorded:
            lines.append(f"  {out.recorded}")
        if out.notice:
            lines.append(f"  ! {out.notice}")
        by_label: dict[str, str] = {}
        for reply in out.replies:
            lines.append("")
            lines.extend(reply.text.split("\n"))
            flat = tuple(b for row in reply.keyboard for b in row)
            keep = next((b for b in flat if b.data.startswith("k|")), None)
            last = reply is out.replies[-1]
            if reply.keyboard or last:
                self.buttons, self.typed, self.keep = flat, reply.typed, keep
            if flat and as_commands:
                lines.append("   ".join(self._as_command(b) for b in flat))
                continue
            shown: list[str] = []
            for i, b in enumerate(flat, 1):
                if reply.typed and b is keep:
                    shown.append(f"[{t('key_enter', self.lang)}] {b.label}")
                elif reply.typed or not last:
                    # A number here is an answer to the question: the label presses it.
                    by_label[b.label.casefold()] = b.data
                    shown.append(f"[{t('key_type', self.lang, label=b.label)}]")
                else:
                    shown.append(f"[{i}] {b.label}")
            if shown:
                lines.append("   ".join(shown))
        self.by_label = by_label
        return lines

    def _as_command(self, button: Button) -> str:
        """The command a ▶ (resume) button stands for: ``/resume CODE``."""
        data = parse_data(button.data)
        if data is None or data.kind != "r" or data.screening_id is None:
            return button.label
        code = self.flow.store.get_screening(data.screening_id).patient_code
        return f"/resume {code}"


def _command(text: str) -> str | None:
    """The command a typed line starts with, lower-case (None for an answer)."""
    return text.split(" ", 1)[0].lower() if text.startswith("/") else None


def run_terminal(settings: Settings, lang: str | None = None, user_id: int | None = None) -> int:
    """The interactive loop (rich prompts); migrations are applied on start."""
    from rich.console import Console

    from bot.app import build_services

    console = Console(highlight=False)
    services = build_services(settings)
    uid = LOCAL_USER_ID if user_id is None else user_id
    with _log_off_screen(settings.data_dir), contextlib.closing(services):
        ensure_local_user(services.store, uid, lang)
        session = ChatSession(services.flow, uid)
        _show(console, session.start())
        while True:
            try:
                line = console.input("[bold cyan]> [/]")
            except (EOFError, KeyboardInterrupt):
                console.print()  # leave the shell prompt on a line of its own
                break
            if line.strip().lower() in QUIT:
                break
            _show(console, session.feed(line))
    return 0


CHAT_LOG = "screenbot-chat.log"


@contextlib.contextmanager
def _log_off_screen(data_dir: Path) -> Iterator[None]:
    """Keep log records (and their tracebacks) off the chat screen.

    Without a handler, Python prints warnings and errors to stderr, which in the
    terminal is the investigator's conversation: a protocol refused for a screening
    showed 20 lines of traceback before the bot's own message.  They go to
    ``DATA_DIR/screenbot-chat.log`` (owner-only, like the database beside it), or
    nowhere when that file cannot be written.  A logging set-up already in place (an
    embedding program, the test runner) is left alone.
    """
    root = logging.getLogger()
    if root.handlers:
        yield
        return
    handler: logging.Handler
    path = data_dir / CHAT_LOG
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:  # no data directory (PostgreSQL), or a read-only one
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def _show(console: object, lines: list[str]) -> None:
    from rich.console import Console

    assert isinstance(console, Console)
    for line in lines:
        console.print(line, markup=False, emoji=False)
