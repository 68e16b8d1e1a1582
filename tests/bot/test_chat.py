"""The terminal chat: the ChatSession core in-process, and ``screenbot chat`` as a subprocess."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from bot.app import build_services
from bot.chat import LOCAL_USER_ID, ChatSession, ensure_local_user
from bot.settings import Settings
from dialogs.protocol import AnswerType
from tests.bot.conftest import ELIGIBLE, TODAY, eligible_on

ROOT = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, telegram_token=None)  # type: ignore[call-arg]


def test_chat_session_to_a_verdict_with_numbered_buttons(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path), clock=lambda: TODAY)
    try:
        ensure_local_user(services.store, LOCAL_USER_ID, "en")
        session = ChatSession(services.flow)
        assert any("Welcome" in line for line in session.start())
        session.feed("/new")
        out = session.feed("P-0100")
        assert any(line.startswith("Q 1/") for line in out)
        engine = services.registry.latest()
        for _ in range(100):
            s = services.store.find_open_screening(LOCAL_USER_ID)
            if s is None:
                break
            qid = s.current_state
            value = ELIGIBLE[qid]
            if engine.question(qid).type is AnswerType.choice:
                labels = [b.label for b in session.buttons]
                label = next(
                    c.label.get("en") for c in engine.question(qid).choices if c.value == value
                )
                out = session.feed(str(labels.index(label) + 1))  # press by number
            else:
                out = session.feed(value)
        text = "\n".join(out)
        assert "verdict: ELIGIBLE" in text
        # /back on a typed question: Enter keeps the answer
        session.feed("/new P-0101")
        session.feed("today")
        session.feed("/back")
        assert session.keep is not None and session.typed
        out = session.feed("")
        assert any("(kept)" in line for line in out)
        assert services.store.find_open_screening(LOCAL_USER_ID).current_state == "cohort"
    finally:
        services.close()


def test_screenbot_chat_subprocess_through_stdin(tmp_path: Path) -> None:
    # The answers an investigator types (choices by their words: the parser accepts them).
    # The subprocess runs on the real date: answers are dated from it.
    record = eligible_on(dt.date.today())
    lines = ["/new", "P-0200", *record.values(), "/quit"]  # in the order they are asked
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    for name in ("DATABASE_URL", "TELEGRAM_TOKEN", "PROTOCOL_DIR"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli_chat", "--lang", "en"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Screening P-0200 started" in result.stdout
    assert "verdict: ELIGIBLE" in result.stdout, result.stdout[-3000:]
    assert (tmp_path / "data" / "screenbot.sqlite3").exists()


def test_chat_session_survives_odd_lines(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path), clock=lambda: TODAY)
    try:
        ensure_local_user(services.store, LOCAL_USER_ID, "en")
        session = ChatSession(services.flow)
        session.start()
        session.feed("/new P-0200")
        session.feed("today")  # now at the cohort, a choice pressed by number
        assert session.feed("") == ["", "Type an answer, or /help for the commands."]
        session.feed("/lang fr")
        assert session.feed("") == ["", "Saisissez une réponse, ou /help pour les commandes."]
        out = session.feed("9" * 5000)  # no button number, and too long for int()
        assert services.store.find_open_screening(LOCAL_USER_ID).current_state == "cohort"  # type: ignore[union-attr]
        assert out and not any("Traceback" in line for line in out)
    finally:
        services.close()
