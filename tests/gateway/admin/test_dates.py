from datetime import datetime, timedelta

from gateway.admin.dates import created_label

NOW = datetime(2026, 11, 25, 15, 0)


def test_just_now_for_the_first_sixty_minutes():
    assert created_label(NOW, NOW) == "Just now"
    assert created_label(NOW - timedelta(minutes=59, seconds=59), NOW) == "Just now"


def test_today_after_an_hour():
    assert created_label(NOW - timedelta(minutes=60), NOW) == "Today"
    assert created_label(datetime(2026, 11, 25, 0, 0), NOW) == "Today"


def test_the_date_before_today():
    assert created_label(datetime(2026, 11, 24, 23, 59), NOW) == "2026-11-24"
    assert created_label(datetime(2019, 1, 2, 3, 4), NOW) == "2019-01-02"


def test_just_now_across_midnight():
    now = datetime(2026, 11, 25, 0, 10)
    assert created_label(datetime(2026, 11, 24, 23, 30), now) == "Just now"
    assert created_label(datetime(2026, 11, 24, 22, 30), now) == "2026-11-24"


def test_a_clock_slightly_ahead_still_reads_just_now():
    assert created_label(NOW + timedelta(seconds=30), NOW) == "Just now"
