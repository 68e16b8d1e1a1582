"""Per-answer cost of the Telegram bot, end to end, against a floor measured in the same run.

End to end: Update JSON → ``Update.de_json`` → ``Application.process_update`` → handler →
restore from storage → engine → one durable commit (SQLite WAL, synchronous=FULL) →
reply through an offline ``BaseRequest``.

Floor: ``process_update`` of a handler doing one raw ``sqlite3`` durable INSERT (WAL,
synchronous=FULL) and one ``reply_text`` through the same offline request.

Press floor (for reading the result, not the target): the same raw INSERT, but with the
replies the issue asks of a button press: answer the callback query, edit the pressed
message to show the answer, send the next question with its Yes / No / Unknown buttons
(sent together, as the bot does).  What the bot spends beyond it is its own work: the
engine, the audit rows and the reads a press needs.

Also: answers/s with 1,000 screenings in flight (answers interleaved across 1,000 open
screenings of 1,000 investigators) and resident memory per in-flight screening.

    uv run python bench/bench_bot.py           # full run (~1-2 minutes)
    uv run python bench/bench_bot.py --quick   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import itertools
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import build_application, build_services
from bot.settings import Settings
from dialogs.protocol import AnswerType
from tests.bot.transcript import BOT_USER, OfflineRequest
from tests.fixtures import typed_on

TODAY = dt.date(2025, 6, 2)
TOKEN = "123456:BENCH"
BOT_DATABASE = "bot.sqlite3"
ROUND_TRIP = 0.02  # seconds per Bot API call, for the "far from Telegram" lines


# The shared eligible AcSé patient (tests/fixtures/records), in the order asked.
ANSWERS: dict[str, str] = typed_on(TODAY)


_update_ids = itertools.count(1)


def message_update(user_id: int, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": 0,
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "I", "language_code": "en"},
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split(" ", 1)[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": next(_update_ids), "message": message}


def callback_update(user_id: int, data: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "I", "language_code": "en"}
    message = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": user_id, "type": "private"},
        "from": BOT_USER,
        "text": "question",
    }
    query = {"id": str(next(_update_ids)), "from": user, "chat_instance": "c", "data": data,
             "message": message}  # fmt: skip
    return {"update_id": next(_update_ids), "callback_query": query}


class NetworkRequest(OfflineRequest):
    """The offline Bot API behind a fixed round trip, as seen from a bot far from Telegram."""

    def __init__(self, round_trip: float) -> None:
        super().__init__(record=False)
        self.round_trip = round_trip

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        await asyncio.sleep(self.round_trip)
        return await super().do_request(*args, **kwargs)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(app: Application, data: dict[str, Any]) -> float:  # type: ignore[type-arg]
    start = time.perf_counter()
    await app.process_update(Update.de_json(data, app.bot))
    return time.perf_counter() - start


# -- the floor ---------------------------------------------------------------------------


def durable_table(path: Path, table: str) -> sqlite3.Connection:
    """A floor's table, in the bot's own database file: WAL, synchronous=FULL, autocommit.

    The same file, not one beside it: fsyncs of several files in turn wait on each
    other's journal commits (the floor's p50 rose from 0.3 to 3.6 ms here), which no
    single-file bot pays.
    """
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, user_id INTEGER, text TEXT)")
    return db


class Floor:
    """A floor's Application, sampled between the bot's answers.

    Interleaved, floor and bot run on the same machine at the same moments: measured one
    after the other, an fsync stall or a busy neighbour lands in one and not the other,
    and the p99 ratio swung between 0.9x and 3x from run to run.
    """

    def __init__(
        self,
        app: Application,  # type: ignore[type-arg]
        db: sqlite3.Connection,
        update_of: Callable[[int], dict[str, Any]],
    ) -> None:
        self.app = app
        self.db = db
        self.update_of = update_of
        self.samples: list[float] = []

    async def sample(self) -> None:
        self.samples.append(await timed(self.app, self.update_of(len(self.samples))))

    async def close(self) -> None:
        await self.app.shutdown()
        self.db.close()


async def _floor_app(handler: Any, callback: bool) -> Application:  # type: ignore[type-arg]
    request = OfflineRequest(record=False)
    app = Application.builder().token(TOKEN).request(request).get_updates_request(request).build()
    app.add_handler(
        CallbackQueryHandler(handler) if callback else MessageHandler(filters.TEXT, handler)
    )
    await app.initialize()
    return app


async def reply_floor(database: Path) -> Floor:
    """The issue's floor: one raw durable INSERT and one reply_text."""
    db = durable_table(database, "floor_reply")

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.from_user is not None
        db.execute(
            "INSERT INTO floor_reply (user_id, text) VALUES (?, ?)",
            (message.from_user.id, message.text),
        )
        await message.reply_text("recorded")

    app = await _floor_app(handler, callback=False)
    return Floor(app, db, lambda i: message_update(1 + i % 1000, "54"))


def _next_question_keyboard(screening_id: int, question_id: str) -> InlineKeyboardMarkup:
    """The size of the bot's own: three answer buttons with callback data of its form."""
    data = f"a|{screening_id}|{question_id}|"
    buttons = [InlineKeyboardButton(label, callback_data=data + value)
               for label, value in (("Yes", "yes"), ("No", "no"), ("Unknown", "?"))]  # fmt: skip
    return InlineKeyboardMarkup([buttons[:2], buttons[2:]])


async def press_floor(database: Path) -> Floor:
    """The same INSERT with the three calls a button press must make."""
    db = durable_table(database, "floor_press")
    keyboard = _next_question_keyboard(12345, "histology_confirmed")

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        db.execute(
            "INSERT INTO floor_press (user_id, text) VALUES (?, ?)",
            (query.from_user.id, query.data),
        )
        await asyncio.gather(
            query.answer(),
            query.edit_message_text(f"{query.message.text}\n✔️ Yes"),
            context.bot.send_message(
                query.message.chat.id,
                "2/38 · Is the diagnosis histologically confirmed?",
                reply_markup=keyboard,
            ),
        )

    app = await _floor_app(handler, callback=True)
    return Floor(app, db, lambda i: callback_update(1 + i % 1000, "a|1|cohort|sarcoma"))


# -- the bot ---------------------------------------------------------------------------------


async def measure_bot(
    folder: Path,
    screenings: int,
    answers_each: int,
    rate_limiter: bool = False,
    round_trip: float | None = None,
    floors: Sequence[Floor] = (),
) -> dict[str, Any]:
    """The bot's answers; each is followed by one sample of each floor (not timed in
    ``wall``, so answers/s is the bot's alone)."""
    folder.mkdir(exist_ok=True)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token=TOKEN,
        database_url=f"sqlite:///{folder / BOT_DATABASE}",
        data_dir=folder,
    )
    services = build_services(settings, clock=lambda: TODAY)
    request = OfflineRequest(record=False) if round_trip is None else NetworkRequest(round_trip)
    app = build_application(
        settings, services, request=request, get_updates_request=request, rate_limiter=rate_limiter
    )
    await app.initialize()
    engine = services.registry.latest()
    users = list(range(10_001, 10_001 + screenings))
    for uid in users:
        services.store.add_user(uid, "investigator", f"inv {uid}", actor="bench")
    gc.collect()
    rss_before = rss_kib()
    opened = [await timed(app, message_update(uid, f"/new P-{uid}")) for uid in users]
    sids = {uid: services.store.find_open_screening(uid).id for uid in users}  # type: ignore[union-attr]
    order = list(ANSWERS)
    samples: list[float] = []
    pressed: list[float] = []
    typed: list[float] = []
    wall = 0.0
    for step in range(answers_each):
        qid = order[step]
        kind = engine.question(qid).type
        for uid in users:  # interleaved: every screening answers its next question in turn
            if kind in (AnswerType.yesno, AnswerType.choice):
                data = callback_update(uid, f"a|{sids[uid]}|{qid}|{ANSWERS[qid]}")
                elapsed = await timed(app, data)
                pressed.append(elapsed)
            else:
                elapsed = await timed(app, message_update(uid, ANSWERS[qid]))
                typed.append(elapsed)
            samples.append(elapsed)
            wall += elapsed
            for floor in floors:
                await floor.sample()
    gc.collect()
    rss_after = rss_kib()
    # Sanity: every screening moved exactly answers_each questions on.
    states = {services.store.get_screening(s).current_state for s in sids.values()}
    expected = order[answers_each] if answers_each < len(order) else "complete"
    assert states == {expected}, states
    await app.shutdown()
    services.close()
    return {
        "samples": samples,
        "pressed": pressed,
        "typed": typed,
        "opened": opened,
        "wall": wall,
        "rss_per_screening_kib": (rss_after - rss_before) / screenings,
        "rss_after_mib": rss_after / 1024,
    }


def line(name: str, samples: list[float]) -> str:
    return (
        f"{name:<34} n={len(samples):>6}  p50={pct(samples, 0.50) * 1e3:7.3f} ms"
        f"  p99={pct(samples, 0.99) * 1e3:7.3f} ms  mean={statistics.fmean(samples) * 1e3:7.3f} ms"
    )


async def main(quick: bool) -> int:
    screenings = 50 if quick else 1000
    answers_each = 4 if quick else 5
    with tempfile.TemporaryDirectory(prefix="bench-bot-") as tmp:
        folder = Path(tmp)
        database = folder / BOT_DATABASE
        floors = (await reply_floor(database), await press_floor(database))
        bot = await measure_bot(folder, screenings, answers_each, floors=floors)
        for each in floors:
            await each.close()
        floor, press = (each.samples for each in floors)
        limited = await measure_bot(folder / "limited", min(screenings, 30), 2, rate_limiter=True)
        remote = await measure_bot(folder / "remote", min(screenings, 30), 3, round_trip=ROUND_TRIP)
    samples = bot["samples"]
    mode = "quick" if quick else "full"
    print(f"bench_bot ({mode}): {screenings} screenings in flight, {answers_each} interleaved")
    print(f"answers each, SQLite WAL synchronous=FULL in {tmp}")
    print("rate limiter off for both floor and bot (it spaces replies to 30/s; see below)")
    print("each bot answer is followed by one sample of each floor (same moments, same disk)")
    print(line("floor (raw INSERT + reply_text)", floor))
    print(line("bot: answer, end to end", samples))
    print(line("  of which button presses", bot["pressed"]))
    print(line("  of which typed answers", bot["typed"]))
    print(line("bot: /new (create screening)", bot["opened"]))
    r50 = pct(samples, 0.5) / pct(floor, 0.5)
    r99 = pct(samples, 0.99) / pct(floor, 0.99)
    print(f"ratio to floor: p50 {r50:.2f}x, p99 {r99:.2f}x (target <= 2x)")
    print(line("press floor (INSERT + a press's 3)", press))
    f50 = pct(press, 0.5) / pct(floor, 0.5)
    f99 = pct(press, 0.99) / pct(floor, 0.99)
    print(f"  press floor / floor: p50 {f50:.2f}x, p99 {f99:.2f}x (what a press must send)")
    p50 = pct(bot["pressed"], 0.5) / pct(press, 0.5)
    p99 = pct(bot["pressed"], 0.99) / pct(press, 0.99)
    print(f"  bot presses / press floor: p50 {p50:.2f}x, p99 {p99:.2f}x (the bot's own work)")
    print(f"throughput with {screenings} in flight: {len(samples) / bot['wall']:.0f} answers/s")
    print(line("with AIORateLimiter (production)", limited["samples"]))
    print("  (Telegram allows a bot ~30 messages/s overall: the limiter spaces the replies)")
    rt = f"{ROUND_TRIP * 1e3:.0f} ms"
    print(line(f"button press, Bot API {rt} away", remote["pressed"]))
    print(line(f"typed answer, Bot API {rt} away", remote["typed"]))
    print("  (a press makes 3 Bot API calls, sent together: about one round trip, not three)")
    print(
        f"resident memory per in-flight screening: {bot['rss_per_screening_kib']:.2f} KiB "
        f"(RSS at end {bot['rss_after_mib']:.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))
