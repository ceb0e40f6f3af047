"""Dates, times and durations in French at the time of Paris; SMS text in GSM-7 (reassort.rules)."""

import datetime as dt

import pytest

from reassort.rules import french, gsm

WINTER = dt.timezone(dt.timedelta(hours=1))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize("moment, expected", [
    ("2026-12-01T09:00:00+01:00", "mardi 1er décembre 2026 à 9 h"),
    ("2026-12-08T18:00:00+01:00", "mardi 8 décembre 2026 à 18 h"),
    ("2026-12-02T10:05:00+01:00", "mercredi 2 décembre 2026 à 10 h 05"),
    # Given in UTC, said at the time of Paris (summer: UTC+2).
    ("2026-06-30T22:30:00+00:00", "mercredi 1er juillet 2026 à 0 h 30"),
])
def test_date_and_time_in_french_at_the_time_of_paris(moment, expected):
    assert french.date_and_time(at(moment)) == expected


def test_at_and_until_say_the_day_only_when_it_is_not_today():
    now = at("2026-12-02T10:42:00+01:00").timestamp()
    assert french.at(now, now) == "à 10 h 42"
    assert french.until(now + 3600 + 23 * 60, now) == "jusqu'à 12 h 05"
    assert french.until(now + 86400, now) == "jusqu'au jeudi 3 décembre à 10 h 42"
    assert french.at(at("2027-01-04T08:00:00+01:00"), now) == "le lundi 4 janvier 2027 à 8 h"


@pytest.mark.parametrize("opens, closes, expected", [
    ("2026-12-01T09:00:00+01:00", "2026-12-08T18:00:00+01:00", "du 1er au 8 décembre 2026"),
    ("2026-11-30T09:00:00+01:00", "2026-12-08T18:00:00+01:00", "du 30 novembre au 8 décembre 2026"),
    ("2026-12-28T09:00:00+01:00", "2027-01-04T18:00:00+01:00", "du 28 décembre 2026 au 4 janvier 2027"),
    ("2026-12-01T09:00:00+01:00", "2026-12-01T18:00:00+01:00", "le 1er décembre 2026"),
    ("2026-12-01T09:00:00+01:00", None, "à partir du 1er décembre 2026"),
    (None, "2026-12-08T18:00:00+01:00", "jusqu'au 8 décembre 2026"),
    (None, None, ""),
])
def test_the_window_in_a_few_words(opens, closes, expected):
    assert french.period(opens and at(opens), closes and at(closes)) == expected


@pytest.mark.parametrize("seconds, expected", [
    (600, "10 minutes"), (60, "1 minute"), (90, "1 minute 30 secondes"), (121, "2 minutes 1 seconde"),
    (45, "45 secondes"), (1, "1 seconde"), (0, "0 seconde"),
    (3600, "1 heure"), (5400, "1 heure 30 minutes"), (7200, "2 heures"), (604800, "7 jours"),
    (93600, "1 jour 2 heures"),
])
def test_durations_never_say_minute_s_nor_0_minutes(seconds, expected):
    assert french.duration(seconds) == expected


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError):
        french.local(dt.datetime(2026, 12, 1, 9))


@pytest.mark.parametrize("text, expected", [
    ("Élections professionnelles 2026", "Élections professionnelles 2026"),
    ("Comité — académie de Créteil", "Comité - académie de Créteil"),
    ("Élection des représentants du personnel : l’Œuvre", "Élection des représentants du personnel : l'OEuvre"),
    ("«\u00a0Forêt\u00a0» & Côte", '" Foret " & Cote'),
])
def test_sms_text_stays_in_the_gsm7_alphabet(text, expected):
    converted = gsm.to_gsm7(text)
    assert set(converted) <= gsm.BASIC
    assert converted == expected


def test_sms_segments():
    assert gsm.segments("a" * 160) == 1
    assert gsm.segments("a" * 161) == 2
    assert gsm.segments("a" * 306) == 2
    assert gsm.segments("a" * 307) == 3
