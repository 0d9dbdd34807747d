"""Human units in specs."""

from datetime import timedelta

import pytest

from exitkit.drill.units import duration_text, parse_duration, parse_percent, parse_size


@pytest.mark.parametrize(("text", "expected"), [
    ("8MiB", 8 * 2**20), ("5 MB", 5_000_000), ("1024", 1024), (77, 77), ("1.5GiB", 3 * 2**29)])
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), (45, 45), ("12", 12)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_percent_and_rejections():
    assert parse_percent("100%") == 100.0
    assert parse_percent(99.9) == 99.9
    for bad, parser in (("lots", parse_size), ("soon", parse_duration), ("101%", parse_percent),
                        ("x%", parse_percent)):
        with pytest.raises(ValueError):
            parser(bad)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.5, "0.50 s"), (200, "3m 20s"), (600, "10m"), (5400, "1h 30m"), (2592000, "30d"),
    (2592600, "30d 10m"), (90061, "1d 1h 1m 1s")])
def test_durations_read_back_as_specs_write_them(seconds, text):
    assert duration_text(seconds) == text
    if seconds >= 60:
        assert parse_duration(text.replace(" ", "")) == timedelta(seconds=seconds)
