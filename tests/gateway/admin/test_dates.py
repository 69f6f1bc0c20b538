from datetime import datetime, timedelta

from gateway.admin.dates import Clock, created_label, zone

NOW = datetime(2026, 11, 25, 15, 0)


def test_just_now_for_the_first_sixty_minutes():
    assert created_label(NOW, NOW) == "Just now"
    assert created_label(NOW - timedelta(minutes=59, seconds=59), NOW) == "Just now"


def test_today_after_an_hour():
    assert created_label(NOW - timedelta(minutes=60), NOW) == "Today"
    assert created_label(datetime(2026, 11, 25, 0, 0), NOW) == "Today"


def test_the_date_before_today():
    assert created_label(datetime(2026, 11, 24, 23, 59), NOW) == "Nov 24, 2026"
    assert created_label(datetime(2019, 1, 2, 3, 4), NOW) == "Jan 2, 2019"


def test_just_now_across_midnight():
    now = datetime(2026, 11, 25, 0, 10)
    assert created_label(datetime(2026, 11, 24, 23, 30), now) == "Just now"
    assert created_label(datetime(2026, 11, 24, 22, 30), now) == "Nov 24, 2026"


def test_a_clock_slightly_ahead_still_reads_just_now():
    assert created_label(NOW + timedelta(seconds=30), NOW) == "Just now"


def test_today_is_the_accounts_day_not_utcs():
    brussels, tokyo = zone("Europe/Brussels"), zone("Asia/Tokyo")
    now = datetime(2026, 11, 25, 1, 30)  # 02:30 in Brussels, 10:30 in Tokyo (UTC naive in)
    late_yesterday_utc = datetime(2026, 11, 24, 23, 15)  # 00:15 on the 25th in Brussels
    assert created_label(late_yesterday_utc, now) == "Nov 24, 2026"  # UTC
    assert created_label(late_yesterday_utc, now, brussels) == "Today"
    assert created_label(datetime(2026, 11, 24, 14, 0), now, tokyo) == "Nov 24, 2026"
    assert created_label(datetime(2026, 11, 24, 15, 0), now, tokyo) == "Today"


def test_times_show_local_with_the_utc_instant_in_datetime():
    clock = Clock(zone("Europe/Brussels"), datetime(2026, 7, 1, 12, 0))
    tag = str(clock.ago("2026-07-01T11:30:00Z"))
    assert tag == ('<time datetime="2026-07-01T11:30:00Z" title="2026-07-01 13:30 CEST">'
                   "Just now</time>")
    assert ">Jul 1, 2026 13:30</time>" in str(clock.at(datetime(2026, 7, 1, 11, 30)))
    assert zone(None) == zone("Europe/Brussels")  # unset: the default
