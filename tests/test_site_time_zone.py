"""'Today' is the site's: a UTC server refused a French lab drawn today, after midnight."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.app import build_services
from bot.cli import main
from bot.settings import Settings


def test_today_follows_the_site_time_zone() -> None:
    paris = Settings(_env_file=None, timezone="Europe/Paris")  # type: ignore[call-arg]
    tokyo = Settings(_env_file=None, timezone="Asia/Tokyo")  # type: ignore[call-arg]
    utc_now = dt.datetime.now(dt.UTC)
    assert paris.today() == utc_now.astimezone(dt.timezone(dt.timedelta(hours=1))).date() or (
        paris.today() == utc_now.astimezone(dt.timezone(dt.timedelta(hours=2))).date()
    )
    assert tokyo.today() == utc_now.astimezone(dt.timezone(dt.timedelta(hours=9))).date()
    local = Settings(_env_file=None)  # type: ignore[call-arg]
    assert local.timezone is None and local.today() == dt.date.today()


def test_an_unknown_time_zone_is_a_clear_setting_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    assert main(["users", "list"]) == 1
    err = capsys.readouterr().err
    assert "TIMEZONE" in err and "unknown time zone 'Mars/Olympus'" in err
    assert "Traceback" not in err


def test_the_dialog_dates_answers_by_the_site_s_today(tmp_path: object) -> None:
    settings = Settings(_env_file=None, timezone="Pacific/Kiritimati", data_dir=tmp_path)  # type: ignore[call-arg]
    services = build_services(settings)
    try:
        # UTC+14: a day ahead of the server's UTC date for most of the day.
        assert services.registry.latest().clock() == settings.today()
        ahead = dt.datetime.now(dt.timezone(dt.timedelta(hours=14))).date()
        assert services.registry.latest().clock() == ahead
    finally:
        services.close()
