"""One update delivered to two workers at once (PostgreSQL, found by QA with two webhook
workers): the slower one said "P-0313 already has a screening in progress: /resume it",
of the screening that very update had just opened on the other worker."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from storage import Store
from storage.errors import DuplicatePatientCode, UpdateAlreadyProcessed
from storage.models import utcnow
from storage.repository import PROCESSED, SCREENINGS
from tests.storage.conftest import Database

UPDATE = 70_001


@pytest.mark.postgres
def test_the_slower_copy_of_an_update_finds_the_screening_it_opened(
    pg_database: Database,
) -> None:
    store = Store(pg_database.url)
    store.upgrade()
    store.add_user(100, "investigator", "Dr A", actor="test")
    other_worker = sa.create_engine(pg_database.url)
    outcome: list[BaseException | object] = []
    try:
        with other_worker.begin() as conn:
            # The first copy, mid-transaction on the other worker: its screening and its
            # claim on the update are written, not yet committed.
            now = utcnow()
            opened = conn.execute(
                sa.insert(SCREENINGS)
                .values(
                    patient_code="P-0313", protocol_id="acse-pembrolizumab",
                    protocol_version="1", protocol_sha256="x", investigator_id=100,
                    status="in_progress", current_state="planned_start_date",
                    answer_count=0, created_at=now, updated_at=now,
                )
                .returning(SCREENINGS.c.id)
            ).scalar_one()  # fmt: skip
            conn.execute(
                sa.insert(PROCESSED).values(update_id=UPDATE, processed_at=now, screening_id=opened)
            )

            def second_copy() -> None:
                try:
                    outcome.append(
                        store.create_screening(
                            "P-0313", "acse-pembrolizumab", "1", "x", 100,
                            "planned_start_date", update_id=UPDATE,
                        )
                    )  # fmt: skip
                except (UpdateAlreadyProcessed, DuplicatePatientCode) as exc:
                    outcome.append(exc)

            worker = threading.Thread(target=second_copy)
            worker.start()
            time.sleep(0.5)  # the second copy now waits on the open-code index
        worker.join(timeout=10)
        (result,) = outcome
        assert isinstance(result, UpdateAlreadyProcessed), result
        assert result.screening_id == opened
    finally:
        other_worker.dispose()
        store.close()
