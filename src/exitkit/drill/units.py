"""Parse the human units drill specs use: sizes (``8MiB``), durations (``10m``), percents."""

import re
from datetime import timedelta

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.IGNORECASE)
_DURATION_FACTORS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_size(value: int | str) -> int:
    """Return bytes for ``8MiB``, ``5 MB``, ``1024`` or an int."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 8MiB, 100MB, 1048576)")
    number, unit = match.groups()
    return int(float(number) * _SIZE_FACTORS[(unit or "b").lower()])


def parse_duration(value: int | float | str | timedelta) -> timedelta:
    """Return a timedelta for ``90s``, ``10m``, ``1h30m``, ``2d`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return timedelta(seconds=float(text))
    if not re.fullmatch(r"(\s*\d+(?:\.\d+)?\s*[dhms])+\s*", text, re.IGNORECASE):
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 10m, 1h30m)")
    seconds = sum(float(n) * _DURATION_FACTORS[u.lower()] for n, u in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


def parse_percent(value: int | float | str) -> float:
    """Return a percentage in [0, 100] for ``100%`` or ``99.9``."""
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"not a percentage: {value!r} (use e.g. 100%)") from None
    if not 0 <= number <= 100:
        raise ValueError(f"not a percentage between 0 and 100: {value!r}")
    return number


def parse_eur(value: int | float | str) -> float:
    """Return an amount in EUR for ``50``, ``"50 EUR"``, ``"EUR 12.5"`` or ``"€7"``."""
    text = str(value).strip().replace("€", "").replace("EUR", "").strip()
    try:
        amount = float(text)
    except ValueError:
        raise ValueError(f"not an amount in EUR: {value!r} (use e.g. 50 EUR)") from None
    if amount < 0:
        raise ValueError(f"not an amount in EUR: {value!r} (negative)")
    return amount


def duration_text(seconds: float) -> str:
    """``0.5`` -> ``0.50 s``, ``200`` -> ``3m 20s``, ``600`` -> ``10m``,
    ``90060`` -> ``1d 1h 1m``: whole seconds from a minute on, zero units left out."""
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    units = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    return " ".join(f"{value}{unit}" for value, unit in units if value)
