"""Durable, auditable storage of screenings on SQLite (embedded) or PostgreSQL.

Knows nothing of Telegram: callers pass Telegram ids and update ids as plain integers.
"""

from storage.engine import normalise_url, sqlite_url
from storage.errors import (
    DuplicatePatientCode,
    DuplicateUser,
    InvalidTransition,
    InvalidValue,
    SchemaOutOfDate,
    ScreeningNotFound,
    StorageError,
    UpdateAlreadyProcessed,
    UserNotFound,
)
from storage.models import AnswerRecord, EventRecord, ProcessedUpdate, Role, Screening, Status, User
from storage.repository import ScreeningTx, Store

__all__ = [
    "AnswerRecord",
    "DuplicatePatientCode",
    "DuplicateUser",
    "EventRecord",
    "InvalidTransition",
    "InvalidValue",
    "ProcessedUpdate",
    "Role",
    "SchemaOutOfDate",
    "Screening",
    "ScreeningNotFound",
    "ScreeningTx",
    "Status",
    "StorageError",
    "Store",
    "UpdateAlreadyProcessed",
    "User",
    "UserNotFound",
    "normalise_url",
    "sqlite_url",
]
