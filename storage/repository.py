"""The storage API the bot and the coordinator tools use: :class:`Store` and its unit of work.

Statements are SQLAlchemy Core, not ORM sessions: the per-answer transaction is on the
bot's reply path and must stay close to the cost of the fsync it pays for.  Rows come
back as detached model instances; changing them changes nothing in the database.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import SQLModel

from storage import schema
from storage.engine import WRITE_TX, create_engine, normalise_url
from storage.errors import (
    DuplicatePatientCode,
    DuplicateUser,
    InvalidTransition,
    InvalidValue,
    ScreeningNotFound,
    StorageError,
    UpdateAlreadyProcessed,
    UserNotFound,
)
from storage.locks import KeyedLocks
from storage.models import (
    LANGUAGES,
    AccessAction,
    AccessEvent,
    AnswerRecord,
    EventRecord,
    ProcessedUpdate,
    Role,
    Screening,
    Status,
    User,
    table,
    utcnow,
)

USERS = table(User)
SCREENINGS = table(Screening)
ANSWERS = table(AnswerRecord)
EVENTS = table(EventRecord)
PROCESSED = table(ProcessedUpdate)
ACCESS_EVENTS = table(AccessEvent)

M = TypeVar("M", bound=SQLModel)

# "Is open" as an SQL literal, never a bound parameter: SQLite re-prepares a statement on
# every run when a bound value could decide whether a partial index applies (the open
# patient code index is ``WHERE status = 'in_progress'``), ~30 us a statement.
_IN_PROGRESS = sa.literal_column(f"'{Status.IN_PROGRESS.value}'", sa.String)

# Statements on the per-answer path are built once: building and cache-keying a fresh
# statement per call cost more than the rest of the transaction apart from the fsync.
_OTHER = SCREENINGS.alias("current_open")
# With the lock, the investigator's current screening (the open one touched last, which
# typed answers go to): a press on another patient's old message says whose it is.  In
# the same statement: a second one cost ~5% of a press.
_CURRENT_OPEN_ID = (
    sa.select(_OTHER.c.id)
    .where(_OTHER.c.investigator_id == SCREENINGS.c.investigator_id)
    .where(_OTHER.c.status == _IN_PROGRESS)
    .order_by(_OTHER.c.updated_at.desc(), _OTHER.c.id.desc())
    .limit(1)
    .scalar_subquery()
    .label("current_open_id")
)
_LOCK_SCREENING = (
    sa.select(SCREENINGS, _CURRENT_OPEN_ID)
    .where(SCREENINGS.c.id == sa.bindparam("screening_id"))
    .with_for_update(of=SCREENINGS)
)
# The answer a new one supersedes is found inside the INSERT: one statement fewer.
_PREVIOUS_ANSWER = (
    sa.select(ANSWERS.c.id)
    .where(ANSWERS.c.screening_id == sa.bindparam("prev_screening_id"))
    .where(ANSWERS.c.question_id == sa.bindparam("prev_question_id"))
    .order_by(ANSWERS.c.seq.desc())
    .limit(1)
    .scalar_subquery()
)
_INSERT_ANSWER = (
    sa.insert(ANSWERS)
    .values(supersedes_id=_PREVIOUS_ANSWER)
    .returning(ANSWERS.c.id, ANSWERS.c.supersedes_id)
)
_INSERT_EVENT = sa.insert(EVENTS)
# On the typed-answer path (is a "stop at first fail" offer pending?).
# The current answers as the dialog needs them to resume: three columns, no per-row record.
_CURRENT_VALUES = (
    sa.select(ANSWERS.c.question_id, ANSWERS.c.raw, ANSWERS.c.value_json)
    .where(ANSWERS.c.screening_id == sa.bindparam("screening_id"))
    .order_by(ANSWERS.c.seq)
)
# The reads every update starts with: who is this, and which screening is theirs.
_GET_USER = sa.select(USERS).where(USERS.c.telegram_id == sa.bindparam("telegram_id"))
_OPEN_SCREENING = (
    sa.select(SCREENINGS)
    .where(SCREENINGS.c.investigator_id == sa.bindparam("investigator_id"))
    .where(SCREENINGS.c.status == _IN_PROGRESS)
    .order_by(SCREENINGS.c.updated_at.desc(), SCREENINGS.c.id.desc())
    .limit(1)
)
# An access change reads the old value to record it, locked against a concurrent change.
_LOCK_USER = _GET_USER.with_for_update()


def _last_event_statement(kinds: tuple[str, ...]) -> sa.Select[Any]:
    """The latest event of these kinds; one bound parameter per kind (no expanding IN,
    which only ``Connection.execute`` can render), so the driver path can run it."""
    return (
        sa.select(EVENTS)
        .where(EVENTS.c.screening_id == sa.bindparam("last_screening_id"))
        .where(
            sa.or_(
                *(EVENTS.c.kind == sa.bindparam(f"kind_{i}", kind) for i, kind in enumerate(kinds))
            )
        )
        .order_by(EVENTS.c.id.desc())
        .limit(1)
    )


# SET columns come from the parameters given at execution.
_UPDATE_SCREENING = sa.update(SCREENINGS).where(SCREENINGS.c.id == sa.bindparam("b_screening_id"))
_CLAIM_UPDATE = {
    name: dialect.insert(PROCESSED)
    .on_conflict_do_nothing(index_elements=["update_id"])
    .returning(PROCESSED.c.update_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


class _DriverStatement:
    """One hot-path statement, compiled once for a dialect and run on the DBAPI cursor.

    Why: ``Connection.execute`` spends more per statement on its own machinery (cache
    lookup, execution context, event dispatch, result set-up) than SQLite spends running
    it, and the unit of work runs four of them per answer.  The SQL text, the bind
    conversions and the result conversions are all SQLAlchemy's own (compiled statement,
    each column type's processors for this dialect), and the cursor is the one of the
    transaction the ``Connection`` began, so what is written, and the transaction it is
    written in, are what ``conn.execute`` would have produced.  Driver errors come back
    wrapped as SQLAlchemy errors, so callers catch ``IntegrityError`` as before.
    """

    __slots__ = (
        "_binds",
        "_columns",
        "_defaults",
        "_dialect",
        "_keys",
        "_names",
        "_positional",
        "_results",
        "sql",
    )

    def __init__(
        self, statement: sa.ClauseElement, dialect: Dialect, column_keys: Sequence[str] = ()
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys) or None)
        assert isinstance(compiled, SQLCompiler)
        if (
            compiled.escaped_bind_names
            or compiled.literal_execute_params
            or compiled.post_compile_params
        ):
            # These need per-execution rendering that only Connection.execute does.
            raise StorageError(f"statement not suitable for the driver path: {compiled}")
        self.sql = compiled.string
        self._dialect = dialect
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        self._positional = compiled.positional
        names = compiled.positiontup if compiled.positional else list(by_name)
        assert names is not None
        self._defaults = {
            name: bind.effective_value for name, bind in by_name.items() if not bind.required
        }
        self._binds = [
            (name, by_name[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]
        self._names = tuple(names)
        exported = statement.exported_columns if isinstance(statement, sa.ReturnsRows) else ()
        self._columns = [(column.key, column.type) for column in exported]
        self._keys = tuple(key for key, _ in self._columns)
        # Result processors may depend on the type code the driver reports: set on first use.
        self._results: list[Any] | None = None

    def run(
        self, conn: Connection, cursor: DBAPICursor, params: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Execute with SQLAlchemy's conversions; the rows as dicts keyed by column key."""
        values = {**self._defaults, **params} if self._defaults else params
        bound = [
            values[name] if process is None else process(values[name])
            for name, process in self._binds
        ]
        args: Any = tuple(bound) if self._positional else dict(zip(self._names, bound, strict=True))
        dbapi = self._dialect.loaded_dbapi
        try:
            cursor.execute(self.sql, args)
            raw = cursor.fetchall() if self._columns else []
        except dbapi.Error as exc:
            lost = self._dialect.is_disconnect(exc, conn.connection.driver_connection, cursor)
            if lost:
                # As Connection.execute would: the pooled connection must not be reused.
                conn.invalidate(exc)
            raise DBAPIError.instance(
                self.sql, args, exc, dbapi.Error, connection_invalidated=lost, dialect=self._dialect
            ) from exc
        if not raw:
            return []
        results = self._results
        if results is None:
            description = cursor.description
            assert description is not None
            results = self._results = [
                type_.dialect_impl(self._dialect).result_processor(self._dialect, desc[1])
                for (_, type_), desc in zip(self._columns, description, strict=True)
            ]
        return [
            {
                key: value if process is None else process(value)
                for key, process, value in zip(self._keys, results, row, strict=True)
            }
            for row in raw
        ]


class _HotPath:
    """The unit of work's statements for one engine's dialect, compiled on first use."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self.lock = _DriverStatement(_LOCK_SCREENING, dialect)
        self.claim = _DriverStatement(
            _CLAIM_UPDATE[dialect.name], dialect, ("update_id", "processed_at", "screening_id")
        )
        self.answer = _DriverStatement(_INSERT_ANSWER, dialect, _ANSWER_KEYS)
        self.event = _DriverStatement(_INSERT_EVENT.returning(EVENTS.c.id), dialect, _EVENT_KEYS)
        self.current_values = _DriverStatement(_CURRENT_VALUES, dialect)
        self.user = _DriverStatement(_GET_USER, dialect)
        self.open_screening = _DriverStatement(_OPEN_SCREENING, dialect)
        # One per set of changed columns (or of event kinds); the code paths fix these
        # sets, so there are few.
        self._updates: dict[tuple[str, ...], _DriverStatement] = {}
        self._last_events: dict[tuple[str, ...], _DriverStatement] = {}

    def last_event(self, kinds: tuple[str, ...]) -> _DriverStatement:
        statement = self._last_events.get(kinds)
        if statement is None:
            statement = _DriverStatement(_last_event_statement(kinds), self._dialect)
            self._last_events[kinds] = statement
        return statement

    def update(self, columns: tuple[str, ...]) -> _DriverStatement:
        statement = self._updates.get(columns)
        if statement is None:
            statement = _DriverStatement(
                _UPDATE_SCREENING, self._dialect, ("b_screening_id", *columns)
            )
            self._updates[columns] = statement
        return statement


_ANSWER_KEYS = (
    "screening_id",
    "seq",
    "question_id",
    "raw",
    "value_json",
    "unit",
    "user_id",
    "created_at",
    "reason",
    "prev_screening_id",
    "prev_question_id",
)
_EVENT_KEYS = ("screening_id", "kind", "user_id", "detail", "created_at")


def _model(model: type[M], row: sa.Row[Any]) -> M:
    return _build(model, row._asdict())


def _build(model: type[M], values: Mapping[str, Any]) -> M:
    """A model instance from a complete set of trusted column values.

    Built the way the ORM loads a row (instance without __init__, values poured into its
    dict): the database already enforced the types, and validating every field again
    cost ~50 us per row, a sixth of the per-answer transaction.
    """
    manager = manager_of_class(model)
    if not manager.mapper.configured:
        # A normal __init__ would configure the mappers; new_instance() does not.
        sa.orm.configure_mappers()
    instance: M = manager.new_instance()
    instance.__dict__.update(values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    return instance


def _check_role(role: str) -> str:
    try:
        return Role(role).value
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidValue(f"unknown role {role!r} (expected one of: {allowed})") from None


def _check_language(language: str | None) -> str | None:
    if language is not None and language not in LANGUAGES:
        allowed = ", ".join(sorted(LANGUAGES))
        raise InvalidValue(f"unsupported language {language!r} (expected one of: {allowed})")
    return language


def _check_actor(actor: str) -> str:
    # "Who granted it?" answered by a blank is no answer: refused before any change.
    if not actor.strip():
        raise InvalidValue("an access change needs an actor: who made it")
    return actor


def _check_status(status: str) -> str:
    try:
        return Status(status).value
    except ValueError:
        raise InvalidValue(f"unknown screening status {status!r}") from None


def _check_json(value: Any, what: str) -> None:
    # Fail here, with a storage error, rather than deep inside the driver at commit time;
    # NaN is refused because PostgreSQL's json type cannot hold it.
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(f"{what} is not JSON-serialisable: {exc}") from exc


def _insert_ignoring_conflict(conn: Connection, row: Mapping[str, Any]) -> bool:
    """Insert a processed update id; False when it was already there."""
    # RETURNING rather than rowcount: psycopg reports no rowcount for this statement.
    return conn.execute(_CLAIM_UPDATE[conn.dialect.name], dict(row)).first() is not None


def _latest_per_question(rows: list[AnswerRecord]) -> dict[str, AnswerRecord]:
    current: dict[str, AnswerRecord] = {}
    for record in rows:  # ordered by seq: later answers overwrite earlier ones
        current[record.question_id] = record
    return current


class ScreeningTx:
    """One unit of work on one screening, valid only inside ``Store.screening_tx``."""

    def __init__(
        self,
        conn: Connection,
        cursor: DBAPICursor,
        hot: _HotPath,
        screening: Screening,
        current_open_id: int | None = None,
    ) -> None:
        self._conn = conn
        self._cursor = cursor
        self._hot = hot
        self._screening = screening
        self._dirty: dict[str, Any] = {}
        self._open = True
        self._current_open_id = current_open_id

    @property
    def screening(self) -> Screening:
        """The locked row, with this transaction's pending changes applied."""
        return self._screening

    @property
    def screening_id(self) -> int:
        assert self._screening.id is not None
        return self._screening.id

    def _live(self) -> Connection:
        if not self._open:
            raise StorageError("screening transaction used after it ended")
        return self._conn

    def _change(self, **fields: Any) -> None:
        # Straight into the instance dict, as _build filled it: the row is detached, so
        # the ORM's attribute events (~10 us per answer) would track nothing anyone reads.
        self._screening.__dict__.update(fields)
        self._dirty.update(fields)

    def _require_open_screening(self, action: str) -> None:
        if self._screening.status != Status.IN_PROGRESS:
            raise InvalidTransition(
                f"cannot {action} screening {self.screening_id}: it is {self._screening.status}"
            )

    def claim_update(self, update_id: int) -> bool:
        """Mark a Telegram update as applied; False means it already was and nothing is to do."""
        params = {
            "update_id": update_id,
            "processed_at": utcnow(),
            "screening_id": self.screening_id,
        }
        # RETURNING rather than rowcount: psycopg reports no rowcount for this statement.
        return bool(self._hot.claim.run(self._live(), self._cursor, params))

    def is_current(self) -> bool:
        """Whether this is its investigator's current screening: the open one touched last,
        which typed answers go to (as it was when the transaction began)."""
        return self._current_open_id == self.screening_id

    def current_answers(self) -> dict[str, AnswerRecord]:
        return _latest_per_question(self.answer_history())

    def current_values(self) -> dict[str, tuple[str, Any]]:
        """Each question's current answer as (raw, value_json), in one lean query.

        Resuming a conversation needs only these; building a full record per row of
        history was the largest storage cost of an update (~0.5 ms at 45 answers).
        """
        rows = self._hot.current_values.run(
            self._live(), self._cursor, {"screening_id": self.screening_id}
        )
        return {row["question_id"]: (row["raw"], row["value_json"]) for row in rows}

    def answer_history(self, question_id: str | None = None) -> list[AnswerRecord]:
        return _answer_history(self._live(), self.screening_id, question_id)

    def record_answer(
        self,
        question_id: str,
        raw: str,
        value_json: Any,
        unit: str | None,
        user_id: int,
        reason: str | None = None,
    ) -> AnswerRecord:
        """Append an answer; if the question had one, the new record supersedes it."""
        conn = self._live()
        self._require_open_screening("record an answer in")
        _check_json(value_json, "value_json")
        seq = self._screening.answer_count + 1
        values = {
            "screening_id": self.screening_id,
            "seq": seq,
            "question_id": question_id,
            "raw": raw,
            "value_json": value_json,
            "unit": unit,
            "user_id": user_id,
            "created_at": utcnow(),
            "reason": reason,
        }
        try:
            (inserted,) = self._hot.answer.run(
                conn,
                self._cursor,
                {**values, "prev_screening_id": self.screening_id, "prev_question_id": question_id},
            )
        except IntegrityError as exc:
            raise UserNotFound(user_id) if _is_fk_error(exc) else _integrity(exc) from exc
        self._change(answer_count=seq)
        values.update(inserted)
        return _build(AnswerRecord, values)

    def set_state(self, state: str) -> None:
        self._change(current_state=state)

    def set_to_confirm(self, question_ids: Sequence[str]) -> None:
        """The answered questions to ask again with a Keep button (see the model)."""
        ids = list(question_ids) or None
        if ids != self._screening.to_confirm:
            self._change(to_confirm=ids)

    def set_language(self, language: str | None) -> None:
        self._change(language=_check_language(language))

    def complete(self, verdict: str, criteria_json: Any, user_id: int | None = None) -> None:
        """Close with a verdict; the event keeps verdict and criteria should it be reopened."""
        self._require_open_screening("complete")
        _check_json(criteria_json, "criteria_json")
        now = utcnow()
        self._change(
            status=Status.COMPLETED.value,
            verdict=verdict,
            criteria_json=criteria_json,
            completed_at=now,
        )
        self.log_event(
            "completed",
            self._actor(user_id),
            {"verdict": verdict, "criteria": criteria_json, "state": self._screening.current_state},
        )

    def abandon(self, user_id: int | None = None, reason: str | None = None) -> None:
        self._require_open_screening("abandon")
        self._change(status=Status.ABANDONED.value)
        self.log_event("abandoned", self._actor(user_id), {"reason": reason})

    def reopen(
        self,
        state: str,
        user_id: int | None = None,
        reason: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Back to in_progress at ``state``; refused if the patient has another open screening.

        ``detail`` is added to the audit event (what the dialog will walk through)."""
        if self._screening.status == Status.IN_PROGRESS:
            raise InvalidTransition(f"screening {self.screening_id} is already in progress")
        previous = {"status": self._screening.status, "verdict": self._screening.verdict}
        self._change(
            status=Status.IN_PROGRESS.value,
            current_state=state,
            verdict=None,
            criteria_json=None,
            completed_at=None,
        )
        # Write now so a clash with another open screening surfaces here, by name.
        try:
            self._flush()
        except IntegrityError as exc:
            raise DuplicatePatientCode(
                self._screening.protocol_id, self._screening.patient_code
            ) from exc
        self.log_event(
            "reopened",
            self._actor(user_id),
            {**previous, "reason": reason, "state": state, **(detail or {})},
        )

    def last_event(self, kinds: Sequence[str]) -> EventRecord | None:
        """The latest of these kinds of event: conversation state the flow derives from
        the audit trail (e.g. a pending offer) rather than keeps in a worker's memory."""
        return _last_event(self._live(), self._cursor, self._hot, self.screening_id, kinds)

    def log_event(self, kind: str, user_id: int | None, detail: Any = None) -> EventRecord:
        """Append a non-answer event (back, confirmed, queried…) to the audit trail."""
        conn = self._live()
        _check_json(detail, "detail")
        values = {
            "screening_id": self.screening_id,
            "kind": kind,
            "user_id": user_id,
            "detail": detail,
            "created_at": utcnow(),
        }
        try:
            (inserted,) = self._hot.event.run(conn, self._cursor, values)
        except IntegrityError as exc:
            raise UserNotFound(user_id or 0) if _is_fk_error(exc) else _integrity(exc) from exc
        values.update(inserted)
        return _build(EventRecord, values)

    def _actor(self, user_id: int | None) -> int:
        return self._screening.investigator_id if user_id is None else user_id

    def _flush(self) -> None:
        if not self._dirty:
            return
        now = utcnow()
        self._change(updated_at=now)
        update = self._hot.update(tuple(sorted(self._dirty)))
        update.run(self._live(), self._cursor, {"b_screening_id": self.screening_id, **self._dirty})
        self._dirty = {}

    def _close(self) -> None:
        self._open = False


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _is_fk_error(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "foreign key" in text


def _integrity(exc: IntegrityError) -> StorageError:
    return StorageError(f"integrity error: {exc.orig}")


def _last_event(
    conn: Connection, cursor: DBAPICursor, hot: _HotPath, screening_id: int, kinds: Sequence[str]
) -> EventRecord | None:
    rows = hot.last_event(tuple(kinds)).run(conn, cursor, {"last_screening_id": screening_id})
    return _build(EventRecord, rows[0]) if rows else None


def _answer_history(
    conn: Connection, screening_id: int, question_id: str | None
) -> list[AnswerRecord]:
    query = sa.select(ANSWERS).where(ANSWERS.c.screening_id == screening_id)
    if question_id is not None:
        query = query.where(ANSWERS.c.question_id == question_id)
    return [_model(AnswerRecord, row) for row in conn.execute(query.order_by(ANSWERS.c.seq))]


class Store:
    """Durable storage of users, screenings and their audit trail, on SQLite or PostgreSQL."""

    def __init__(self, url: str | URL, **engine_kwargs: Any) -> None:
        self._url = normalise_url(url)
        self._engine: Engine = create_engine(self._url, **engine_kwargs)
        self._write_engine = self._engine.execution_options(**{WRITE_TX: True})
        self._locks = KeyedLocks()
        self._hot: _HotPath | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def url(self) -> URL:
        return self._url

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def live_locks(self) -> int:
        return len(self._locks)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Apply pending migrations (idempotent; concurrent callers take turns on PostgreSQL)."""
        schema.upgrade(self._engine)

    def needs_upgrade(self) -> bool:
        return schema.current_revision(self._engine) != schema.head_revision()

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    def _hot_path(self, conn: Connection) -> _HotPath:
        hot = self._hot
        if hot is None:
            # After the first connect, so the dialect knows the server (RETURNING…).
            hot = self._hot = _HotPath(conn.dialect)
        return hot

    @contextmanager
    def _hot_read(self) -> Iterator[tuple[Connection, DBAPICursor, _HotPath]]:
        """A pooled connection with a driver cursor, for the reads every update makes.

        No transaction is begun through SQLAlchemy: on SQLite each SELECT stands alone;
        psycopg opens one implicitly, which the pool rolls back when the connection returns.
        """
        with self._read() as conn:
            hot = self._hot_path(conn)
            driver = conn.connection.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            try:
                yield conn, cursor, hot
            finally:
                cursor.close()

    @contextmanager
    def screening_tx(self, screening_id: int) -> Iterator[ScreeningTx]:
        """Lock one screening, yield its unit of work, commit on success, roll back on error.

        Serialised per screening by an in-process lock and, on PostgreSQL, by
        ``SELECT … FOR UPDATE`` so workers sharing the database also take turns.
        """
        with self._locks.hold(screening_id), self._write() as conn:
            hot = self._hot_path(conn)
            driver = conn.connection.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            try:
                rows = hot.lock.run(conn, cursor, {"screening_id": screening_id})
                if not rows:
                    raise ScreeningNotFound(screening_id)
                row = dict(rows[0])
                current_open_id = row.pop("current_open_id")
                tx = ScreeningTx(conn, cursor, hot, _build(Screening, row), current_open_id)
                try:
                    yield tx
                    tx._flush()
                finally:
                    tx._close()
            finally:
                cursor.close()

    # -- screenings -----------------------------------------------------------------------

    def create_screening(
        self,
        patient_code: str,
        protocol_id: str,
        protocol_version: str,
        protocol_sha256: str,
        investigator_id: int,
        initial_state: str,
        language: str | None = None,
        update_id: int | None = None,
    ) -> Screening:
        """Open a screening (and claim ``update_id`` with it, in the same transaction).

        Raises DuplicatePatientCode when the patient already has an open screening of this
        protocol, UserNotFound for an unknown investigator, UpdateAlreadyProcessed on a
        redelivered update.
        """
        _check_language(language)
        now = utcnow()
        try:
            with self._write() as conn:
                if update_id is not None:
                    done = conn.execute(
                        sa.select(PROCESSED.c.screening_id).where(
                            PROCESSED.c.update_id == update_id
                        )
                    ).first()
                    if done is not None:
                        raise UpdateAlreadyProcessed(update_id, done.screening_id)
                if _get_user(conn, investigator_id) is None:
                    raise UserNotFound(investigator_id)
                if _open_by_code(conn, protocol_id, patient_code) is not None:
                    raise DuplicatePatientCode(protocol_id, patient_code)
                values: dict[str, Any] = {
                    "patient_code": patient_code,
                    "protocol_id": protocol_id,
                    "protocol_version": protocol_version,
                    "protocol_sha256": protocol_sha256,
                    "investigator_id": investigator_id,
                    "status": Status.IN_PROGRESS.value,
                    "current_state": initial_state,
                    "language": language,
                    "verdict": None,
                    "criteria_json": None,
                    "to_confirm": None,
                    "answer_count": 0,
                    "created_at": now,
                    "updated_at": now,
                    "completed_at": None,
                }
                try:
                    result = conn.execute(sa.insert(SCREENINGS).values(**values))
                except IntegrityError as exc:
                    # The user exists (checked above): only the open-code index can object,
                    # when another worker opened the same patient concurrently.
                    raise DuplicatePatientCode(protocol_id, patient_code) from exc
                values["id"] = _new_id(result)
                screening = _build(Screening, values)
                if update_id is not None and not _insert_ignoring_conflict(
                    conn,
                    {"update_id": update_id, "processed_at": now, "screening_id": screening.id},
                ):
                    raise UpdateAlreadyProcessed(update_id, None)
                # The code prompt is answered: no other worker may take a later message as one.
                conn.execute(
                    sa.update(USERS)
                    .where(USERS.c.telegram_id == investigator_id)
                    .where(USERS.c.awaiting_code_since.is_not(None))
                    .values(awaiting_code_since=None)
                )
                conn.execute(
                    sa.insert(EVENTS).values(
                        screening_id=screening.id,
                        kind="created",
                        user_id=investigator_id,
                        detail={
                            "protocol_id": protocol_id,
                            "protocol_version": protocol_version,
                            "protocol_sha256": protocol_sha256,
                            "state": initial_state,
                        },
                        created_at=now,
                    )
                )
        except DuplicatePatientCode:
            # The same update delivered to two workers at once: the other one opened this
            # very screening while this transaction could not see it yet.  It is that
            # update's screening, not another one in the way.
            opened = self._processed_screening(update_id) if update_id is not None else None
            if update_id is not None and opened is not None:
                raise UpdateAlreadyProcessed(update_id, opened) from None
            raise
        return screening

    def _processed_screening(self, update_id: int) -> int | None:
        """The screening an applied update opened or changed, read afresh; None if the
        update was not applied (or changed no screening)."""
        with self._read() as conn:
            found = conn.execute(
                sa.select(PROCESSED.c.screening_id).where(PROCESSED.c.update_id == update_id)
            ).first()
        return None if found is None else found.screening_id

    def get_screening(self, screening_id: int) -> Screening:
        with self._read() as conn:
            row = conn.execute(sa.select(SCREENINGS).where(SCREENINGS.c.id == screening_id)).first()
        if row is None:
            raise ScreeningNotFound(screening_id)
        return _model(Screening, row)

    def list_screenings(
        self,
        investigator_id: int | None = None,
        status: str | None = None,
        since: dt.datetime | None = None,
        *,
        protocol_id: str | None = None,
        updated_before: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[Screening]:
        """Screenings oldest first; ``since`` filters on created_at, ``updated_before``
        finds idle ones (for reminders)."""
        query = sa.select(SCREENINGS)
        if investigator_id is not None:
            query = query.where(SCREENINGS.c.investigator_id == investigator_id)
        if status is not None:
            query = query.where(SCREENINGS.c.status == _check_status(status))
        if since is not None:
            query = query.where(SCREENINGS.c.created_at >= since)
        if protocol_id is not None:
            query = query.where(SCREENINGS.c.protocol_id == protocol_id)
        if updated_before is not None:
            query = query.where(SCREENINGS.c.updated_at < updated_before)
        query = query.order_by(SCREENINGS.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_model(Screening, row) for row in conn.execute(query)]

    def find_open_screening(
        self, investigator_id: int, patient_code: str | None = None
    ) -> Screening | None:
        """The investigator's most recently touched in-progress screening (optionally by code)."""
        if patient_code is None:  # every typed answer asks this
            with self._hot_read() as (conn, cursor, hot):
                rows = hot.open_screening.run(conn, cursor, {"investigator_id": investigator_id})
            return _build(Screening, rows[0]) if rows else None
        query = (
            sa.select(SCREENINGS)
            .where(SCREENINGS.c.investigator_id == investigator_id)
            .where(SCREENINGS.c.status == _IN_PROGRESS)
        )
        query = query.where(SCREENINGS.c.patient_code == patient_code)
        query = query.order_by(SCREENINGS.c.updated_at.desc(), SCREENINGS.c.id.desc()).limit(1)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _model(Screening, row)

    def find_open_by_code(self, protocol_id: str, patient_code: str) -> Screening | None:
        with self._read() as conn:
            return _open_by_code(conn, protocol_id, patient_code)

    def current_answers(self, screening_id: int) -> dict[str, AnswerRecord]:
        return _latest_per_question(self.answer_history(screening_id))

    def answer_history(
        self, screening_id: int, question_id: str | None = None
    ) -> list[AnswerRecord]:
        """Every answer record in the order given; ``supersedes_id`` links the changes."""
        with self._read() as conn:
            return _answer_history(conn, screening_id, question_id)

    def events(self, screening_id: int, kind: str | None = None) -> list[EventRecord]:
        query = sa.select(EVENTS).where(EVENTS.c.screening_id == screening_id)
        if kind is not None:
            query = query.where(EVENTS.c.kind == kind)
        with self._read() as conn:
            return [_model(EventRecord, row) for row in conn.execute(query.order_by(EVENTS.c.id))]

    def last_event(self, screening_id: int, kinds: Sequence[str]) -> EventRecord | None:
        with self._hot_read() as (conn, cursor, hot):
            return _last_event(conn, cursor, hot, screening_id, kinds)

    # -- processed updates ----------------------------------------------------------------

    def is_processed(self, update_id: int) -> bool:
        with self._read() as conn:
            found = conn.execute(
                sa.select(PROCESSED.c.update_id).where(PROCESSED.c.update_id == update_id)
            ).first()
        return found is not None

    def claim_update(self, update_id: int) -> bool:
        """Claim an update that touches no screening (e.g. a /help); False if already done."""
        with self._write() as conn:
            return _insert_ignoring_conflict(
                conn, {"update_id": update_id, "processed_at": utcnow(), "screening_id": None}
            )

    def prune_processed(self, older_than: dt.datetime) -> int:
        """Forget update ids Telegram can no longer redeliver (it keeps them ~24 h)."""
        with self._write() as conn:
            result = conn.execute(sa.delete(PROCESSED).where(PROCESSED.c.processed_at < older_than))
            return result.rowcount

    # -- users ----------------------------------------------------------------------------

    def add_user(
        self,
        telegram_id: int,
        role: str,
        display_name: str = "",
        language: str | None = None,
        active: bool = True,
        *,
        actor: str,
    ) -> User:
        """Grant access, and record who granted it in the same transaction.

        ``actor`` is keyword-only and required so that no caller can grant access
        without saying who did.
        """
        actor = _check_actor(actor)
        user = User(
            telegram_id=telegram_id,
            role=_check_role(role),
            display_name=display_name,
            language=_check_language(language),
            active=active,
            created_at=utcnow(),
        )
        with self._write() as conn:
            if _get_user(conn, telegram_id) is not None:
                raise DuplicateUser(telegram_id)
            try:
                conn.execute(sa.insert(USERS).values(**user.model_dump()))
            except IntegrityError as exc:
                raise DuplicateUser(telegram_id) from exc
            _record_access(
                conn,
                telegram_id,
                AccessAction.ADDED,
                {"role": user.role, "name": user.display_name, "active": user.active},
                actor,
                user.created_at,
            )
        return user

    def get_user(self, telegram_id: int) -> User | None:
        """None for a stranger: "is this Telegram user known?" is a normal question."""
        with self._hot_read() as (conn, cursor, hot):  # every update starts here
            rows = hot.user.run(conn, cursor, {"telegram_id": telegram_id})
        return _build(User, rows[0]) if rows else None

    def list_users(self, role: str | None = None, active: bool | None = None) -> list[User]:
        query = sa.select(USERS)
        if role is not None:
            query = query.where(USERS.c.role == _check_role(role))
        if active is not None:
            query = query.where(USERS.c.active == active)
        with self._read() as conn:
            return [_model(User, row) for row in conn.execute(query.order_by(USERS.c.telegram_id))]

    def set_active(self, telegram_id: int, active: bool, *, actor: str) -> User:
        """Revoke or restore access; recorded with ``actor`` unless it changes nothing."""
        return self._change_access(telegram_id, "active", active, actor)

    def set_language(self, telegram_id: int, language: str | None) -> User:
        return self._update_user(telegram_id, language=_check_language(language))

    def set_awaiting_code(self, telegram_id: int, awaiting: bool) -> User:
        """Mark (or clear) that the user was asked for a patient code; opening a screening
        clears it too, in the same transaction."""
        return self._update_user(telegram_id, awaiting_code_since=utcnow() if awaiting else None)

    def set_abandon_pending(self, telegram_id: int, screening_id: int | None) -> User:
        """Mark (or clear) that the user was asked whether to abandon this screening."""
        return self._update_user(telegram_id, abandon_pending_id=screening_id)

    def set_telegram_language(self, telegram_id: int, code: str | None) -> User:
        """Record the client's language code as Telegram sends it (``fr``, ``en-GB``…)."""
        return self._update_user(telegram_id, telegram_language=(code or None) and code[:16])

    def saw_telegram_language(self, user: User, code: str | None) -> User:
        """``user`` with the client language of their latest update; written only when
        it changed (every update passes here, and it rarely does)."""
        if not code or code[:16] == user.telegram_language:
            return user
        return self.set_telegram_language(user.telegram_id, code)

    def set_role(self, telegram_id: int, role: str, *, actor: str) -> User:
        """Change what the user may do; recorded with ``actor`` unless it changes nothing."""
        return self._change_access(telegram_id, "role", _check_role(role), actor)

    def set_display_name(self, telegram_id: int, display_name: str, *, actor: str) -> User:
        """Rename; recorded, as summaries and the audit trail name people by it."""
        return self._change_access(telegram_id, "display_name", display_name, actor)

    def access_history(self, telegram_id: int | None = None) -> list[AccessEvent]:
        """Access changes oldest first (one user's, or everyone's): what an inspector
        reads to know who could screen on a given day and who granted it."""
        query = sa.select(ACCESS_EVENTS)
        if telegram_id is not None:
            query = query.where(ACCESS_EVENTS.c.telegram_id == telegram_id)
        query = query.order_by(ACCESS_EVENTS.c.created_at, ACCESS_EVENTS.c.id)
        with self._read() as conn:
            return [_model(AccessEvent, row) for row in conn.execute(query)]

    def _change_access(self, telegram_id: int, column: str, value: Any, actor: str) -> User:
        """Change one access column and record it, in one transaction.

        The old value is read locked (FOR UPDATE on PostgreSQL; SQLite's write
        transaction already excludes other writers): of two concurrent changes the
        second records the first's value as "from", not a stale one.  Setting the value the
        user already has writes nothing: the history lists changes, not commands.
        """
        actor = _check_actor(actor)
        with self._write() as conn:
            row = conn.execute(_LOCK_USER, {"telegram_id": telegram_id}).first()
            if row is None:
                raise UserNotFound(telegram_id)
            before = _model(User, row)
            old = getattr(before, column)
            if old == value:
                return before
            conn.execute(
                sa.update(USERS).where(USERS.c.telegram_id == telegram_id).values({column: value})
            )
            if column == "active":
                action = AccessAction.ACTIVATED if value else AccessAction.DEACTIVATED
                detail = None
            else:
                action = AccessAction.ROLE_CHANGED if column == "role" else AccessAction.RENAMED
                detail = {"from": old, "to": value}
            _record_access(conn, telegram_id, action, detail, actor, utcnow())
        return before.model_copy(update={column: value})

    def _update_user(self, telegram_id: int, **fields: Any) -> User:
        with self._write() as conn:
            result = conn.execute(
                sa.update(USERS).where(USERS.c.telegram_id == telegram_id).values(**fields)
            )
            if result.rowcount == 0:
                raise UserNotFound(telegram_id)
            user = _get_user(conn, telegram_id)
        assert user is not None
        return user


def _record_access(
    conn: Connection,
    telegram_id: int,
    action: AccessAction,
    detail: dict[str, Any] | None,
    actor: str,
    when: dt.datetime,
) -> None:
    conn.execute(
        sa.insert(ACCESS_EVENTS).values(
            telegram_id=telegram_id,
            action=action.value,
            detail=detail,
            actor=actor,
            created_at=when,
        )
    )


def _get_user(conn: Connection, telegram_id: int) -> User | None:
    row = conn.execute(_GET_USER, {"telegram_id": telegram_id}).first()
    return None if row is None else _model(User, row)


def _open_by_code(conn: Connection, protocol_id: str, patient_code: str) -> Screening | None:
    row = conn.execute(
        sa.select(SCREENINGS)
        .where(SCREENINGS.c.protocol_id == protocol_id)
        .where(SCREENINGS.c.patient_code == patient_code)
        .where(SCREENINGS.c.status == _IN_PROGRESS)
    ).first()
    return None if row is None else _model(Screening, row)
