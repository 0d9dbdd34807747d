"""Human units in specs."""

from datetime import timedelta

import pytest

from exitkit.drill.units import parse_duration, parse_percent, parse_size


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
