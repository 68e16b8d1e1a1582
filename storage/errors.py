"""The storage package's exceptions: callers catch :class:`StorageError` and nothing lower.

Driver exceptions (sqlite3, psycopg, SQLAlchemy) never leak with their own types when
storage can say what went wrong in the domain's words.
"""

from __future__ import annotations


class StorageError(Exception):
    """Root of every error raised on purpose by ``storage``."""


class InvalidValue(StorageError, ValueError):
    """A role, language or status outside the allowed set: refused before touching the DB."""


class UserNotFound(StorageError, LookupError):
    def __init__(self, telegram_id: int) -> None:
        super().__init__(f"no user with Telegram id {telegram_id}")
        self.telegram_id = telegram_id


class DuplicateUser(StorageError):
    def __init__(self, telegram_id: int) -> None:
        super().__init__(f"a user with Telegram id {telegram_id} already exists")
        self.telegram_id = telegram_id


class ScreeningNotFound(StorageError, LookupError):
    def __init__(self, screening_id: int) -> None:
        super().__init__(f"no screening with id {screening_id}")
        self.screening_id = screening_id


class DuplicatePatientCode(StorageError):
    """Two open screenings of one protocol for one patient would split the audit trail."""

    def __init__(self, protocol_id: str, patient_code: str) -> None:
        super().__init__(
            f"patient {patient_code!r} already has an open screening for protocol {protocol_id!r}"
        )
        self.protocol_id = protocol_id
        self.patient_code = patient_code


class InvalidTransition(StorageError):
    """An action not allowed in the screening's status (e.g. answering a completed one)."""


class SchemaOutOfDate(StorageError):
    """The database schema is behind the code: run ``screenbot db upgrade``."""


class UpdateAlreadyProcessed(StorageError):
    """The Telegram update was applied before (a redelivery): the caller does nothing."""

    def __init__(self, update_id: int, screening_id: int | None) -> None:
        super().__init__(f"update {update_id} was already processed")
        self.update_id = update_id
        self.screening_id = screening_id
