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

Floors of the bot's required work (also for reading), each with the replies of the bot's
answer it follows (a press's three, or reply_text for a typed one):

- dialog floor: the raw INSERT plus the dialog's step on the same question: restore the
  conversation from its remembered resolution, ``Engine.answer`` (parse, the shared
  ``transitions`` machine, the criteria the answer can reach), release;
- work floor: the dialog step plus the bot's own statements (user read, screening lock,
  update claim, current answers, answer, screening update) on a raw ``sqlite3``
  connection, one durable commit.

No flow, no SQLAlchemy Connection or pool, no records built, no texts: a bot cannot do
less and still be the issue's bot.  When the work floor is at 2x, the target leaves
nothing for the rest.

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

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import build_application, build_services
from bot.settings import Settings
from dialogs.engine import Engine
from dialogs.protocol import AnswerType
from dialogs.registry import ProtocolRegistry
from dialogs.values import Answer
from storage.repository import Store, _HotPath
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
        update_of: Callable[[int, str], dict[str, Any]],
    ) -> None:
        self.app = app
        self.db = db
        self.update_of = update_of
        self.samples: list[float] = []

    async def sample(self, question_id: str) -> None:
        """One sample, after the bot answered ``question_id`` (the engine floor answers it
        too; the others ignore it)."""
        update = self.update_of(len(self.samples), question_id)
        self.samples.append(await timed(self.app, update))

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
    return Floor(app, db, lambda i, _: message_update(1 + i % 1000, "54"))


def _next_question_keyboard(screening_id: int, question_id: str) -> InlineKeyboardMarkup:
    """The size of the bot's own: three answer buttons with callback data of its form."""
    data = f"a|{screening_id}|{question_id}|"
    buttons = [InlineKeyboardButton(label, callback_data=data + value)
               for label, value in (("Yes", "yes"), ("No", "no"), ("Unknown", "?"))]  # fmt: skip
    return InlineKeyboardMarkup([buttons[:2], buttons[2:]])


_KEYBOARD = _next_question_keyboard(12345, "histology_confirmed")


async def press_replies(
    query: CallbackQuery, message: Message, context: ContextTypes.DEFAULT_TYPE
) -> None:
    """The three calls a button press must make, sent together as the bot sends them."""
    await asyncio.gather(
        query.answer(),
        query.edit_message_text(f"{message.text}\n✔️ Yes"),
        context.bot.send_message(
            message.chat.id,
            "2/38 · Is the diagnosis histologically confirmed?",
            reply_markup=_KEYBOARD,
        ),
    )


async def press_floor(database: Path) -> Floor:
    """The same INSERT with the three calls a button press must make."""
    db = durable_table(database, "floor_press")

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        db.execute(
            "INSERT INTO floor_press (user_id, text) VALUES (?, ?)",
            (query.from_user.id, query.data),
        )
        await press_replies(query, query.message, context)

    app = await _floor_app(handler, callback=True)
    return Floor(app, db, lambda i, _: callback_update(1 + i % 1000, "a|1|cohort|sarcoma"))


Write = Callable[[int, str], None]  # (user, callback data or text): the floor's write


def raw_insert(database: Path, table: str) -> tuple[sqlite3.Connection, Write]:
    """The issue's floor write: one raw durable INSERT."""
    db = durable_table(database, table)

    def write(user: int, text: str) -> None:
        db.execute(f"INSERT INTO {table} (user_id, text) VALUES (?, ?)", (user, text))

    return db, write


def raw_unit_of_work(
    database: Path, store: Store, engine: Engine
) -> tuple[sqlite3.Connection, Write]:
    """The bot's own unit of work, its very statements on a raw ``sqlite3`` connection: the
    user read, the screening lock, the update claim, the current answers, the answer, the
    screening update, one durable commit.  Without SQLAlchemy's Connection and pool and
    without building records: what a bot writing straight to the driver would pay.

    On floor screenings of users 1-1000 (the bot's own users start at 10001), in the bot's
    tables: same file, same indexes, answers piling up as the bot's do.
    """
    protocol = engine.protocol
    screenings: dict[int, int] = {}
    for user in range(1, 1001):
        store.add_user(user, "investigator", f"floor {user}", actor="bench")
        opened = store.create_screening(
            f"F-{user}", protocol.id, str(protocol.version), protocol.sha256, user, "cohort"
        )
        assert opened.id is not None
        screenings[user] = opened.id
    hot = _HotPath(store.engine.dialect)  # the statements the bot runs, compiled as it does
    update = hot.update(("answer_count", "updated_at"))
    db = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA synchronous=FULL")
    claims = itertools.count(1_000_000_000)
    conn: Any = None  # only used on a driver error, which a bench does not expect

    def write(user: int, text: str) -> None:
        sid = screenings[user]
        cursor = db.cursor()
        try:
            cursor.execute("BEGIN")
            (who,) = hot.user.run(conn, cursor, {"telegram_id": user})
            (row,) = hot.lock.run(conn, cursor, {"screening_id": sid})
            now = dt.datetime.now(dt.UTC)
            claim = {"update_id": next(claims), "processed_at": now, "screening_id": sid}
            assert hot.claim.run(conn, cursor, claim)
            hot.current_values.run(conn, cursor, {"screening_id": sid})
            seq = row["answer_count"] + 1
            question = text.split("|")[2] if text.startswith("a|") else "planned_start_date"
            answer = {
                "screening_id": sid, "seq": seq, "question_id": question, "raw": text,
                "value_json": text, "unit": None, "user_id": who["telegram_id"],
                "created_at": now, "reason": None, "prev_screening_id": sid,
                "prev_question_id": question,
            }  # fmt: skip
            hot.answer.run(conn, cursor, answer)
            changed = {"b_screening_id": sid, "answer_count": seq, "updated_at": now}
            update.run(conn, cursor, changed)
            cursor.execute("COMMIT")
        finally:
            cursor.close()

    return db, write


async def dialog_floor(db: sqlite3.Connection, write: Write, engine: Engine) -> Floor:
    """A floor's write and replies (a press's three, or reply_text for a typed answer) plus
    the dialog's step on the bot's question: the mandated FSM and rules.

    Each question is answered from the answers before it, their resolution remembered (as
    the bot's next update of a screening finds it); the conversation is released without
    remembering the answer, so every sample of a question starts from the same place.
    """
    before: dict[str, dict[str, Answer]] = {}
    answers: dict[str, Answer] = {}
    for qid, text in ANSWERS.items():
        before[qid] = dict(answers)
        with engine.attached(qid, answers, "en", key=("floor", qid)) as conv:
            step = engine.answer(conv, text)
            assert step.accepted, (qid, text, step.error)
            answers = dict(conv.answers)
        with engine.attached(qid, before[qid], "en", key=("floor", qid)):
            pass  # remembered: the answers before qid, and their resolution
    asked = [""]  # the question of the update being sampled

    def dialog_step() -> None:
        qid = asked[0]
        conv = engine.restore(qid, before[qid], "en", key=("floor", qid))
        try:
            assert engine.answer(conv, ANSWERS[qid]).accepted
        finally:
            engine.release(conv)

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            message = update.effective_message
            assert message is not None and message.from_user is not None
            dialog_step()
            write(message.from_user.id, message.text or "")
            await message.reply_text("recorded")
            return
        assert isinstance(query.message, Message)
        dialog_step()
        write(query.from_user.id, query.data or "")
        await press_replies(query, query.message, context)

    request = OfflineRequest(record=False)
    app = Application.builder().token(TOKEN).request(request).get_updates_request(request).build()
    app.add_handler(CallbackQueryHandler(handler))
    app.add_handler(MessageHandler(filters.TEXT, handler))
    await app.initialize()

    def update_of(i: int, question_id: str) -> dict[str, Any]:
        asked[0] = question_id
        user = 1 + i % 1000
        if engine.question(question_id).type in (AnswerType.yesno, AnswerType.choice):
            return callback_update(user, f"a|1|{question_id}|{ANSWERS[question_id]}")
        return message_update(user, ANSWERS[question_id])

    return Floor(app, db, update_of)


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
                await floor.sample(qid)
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


def ratios(name: str, samples: list[float], floor: list[float], what: str) -> str:
    r50 = pct(samples, 0.5) / pct(floor, 0.5)
    r99 = pct(samples, 0.99) / pct(floor, 0.99)
    return f"{name}: p50 {r50:.2f}x, p99 {r99:.2f}x ({what})"


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
        # The floors' own engine: its remembered resolutions are not the bot's memory.
        engine = ProtocolRegistry.from_directory(clock=lambda: TODAY).latest()
        store = Store(f"sqlite:///{database}")
        store.upgrade()
        floors = (
            await reply_floor(database),
            await press_floor(database),
            await dialog_floor(*raw_insert(database, "floor_dialog"), engine),
            await dialog_floor(*raw_unit_of_work(database, store, engine), engine),
        )
        store.close()
        bot = await measure_bot(folder, screenings, answers_each, floors=floors)
        for each in floors:
            await each.close()
        floor, press, dialog, work = (each.samples for each in floors)
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
    print("floors of the bot's required work, each answer's replies as the bot's (press or typed):")
    print(line("  + dialog step (FSM, rules)", dialog))
    print(ratios("    dialog floor / floor", dialog, floor, "the mandated FSM and rules"))
    print(line("  + its statements, raw sqlite3", work))
    print(ratios("    work floor / floor", work, floor, "what 2x must fit in"))
    print(ratios("    bot / work floor", samples, work, "SQLAlchemy, flow, reads, texts"))
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
