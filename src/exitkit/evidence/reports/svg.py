"""SVG drawing primitives: step-line, bar and trend charts as inline markup.

Charts are built with ElementTree, so every label is escaped; they need no script, font or
other external asset, and degenerate data (no points, one point, all zeros) draws a
valid chart.
"""

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import cycle

from markupsafe import Markup

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
SERIES_COLOURS = ("#0969da", "#8250df", "#bf8700", "#1a7f37")
VERDICT_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#9a3412"}
BAR_COLOUR = "#0969da"
AXIS_COLOUR = "#57606a"


@dataclass(frozen=True)
class Series:
    """One line of a line chart: its name and (x, y) points in drawing order."""

    name: str
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value and the value as shown beside it."""

    label: str
    value: float
    shown: str


@dataclass(frozen=True)
class TrendPoint:
    """One run in a trend: its label (a date), its value (None: not measured), its verdict."""

    label: str
    value: float | None
    verdict: str


@dataclass(frozen=True)
class _Axis:
    """Maps values in [low, high] (low < high) linearly onto pixels from start to end."""

    low: float
    high: float
    start: float
    end: float

    @classmethod
    def spanning(cls, values: Sequence[float], start: float, end: float) -> "_Axis":
        """An axis from min(0, values) to max(0, values), never of zero span."""
        low, high = min([0.0, *values]), max([0.0, *values])
        return cls(low, high if high > low else low + 1, start, end)

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


def line_chart(series: Sequence[Series], title: str, x_label: str, y_label: str,
               css_class: str) -> Markup:
    """Lines from (0, 0) to the largest value on both axes, with a legend and four ticks."""
    width, height, left, right, top, bottom = 720, 280, 64, 20, 40, 48
    svg = _svg(width, height, title, css_class)
    points = [point for one in series for point in one.points]
    if not points:
        return _empty(svg, width, height, "no samples recorded")
    x = _Axis.spanning([point[0] for point in points], left, width - right)
    y = _Axis.spanning([point[1] for point in points], height - bottom, top)
    _grid(svg, x, y, x_label, y_label)
    for index, (colour, one) in enumerate(zip(cycle(SERIES_COLOURS), series)):
        coordinates = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in one.points)
        ET.SubElement(svg, "polyline", points=coordinates, fill="none", stroke=colour,
                      **{"stroke-width": "2"})
        if len(one.points) == 1:
            ET.SubElement(svg, "circle", cx=f"{x(one.points[0][0]):.1f}",
                          cy=f"{y(one.points[0][1]):.1f}", r="3", fill=colour)
        _legend(svg, width - right - 140 * (len(series) - index), 18, colour, one.name)
    return _markup(svg)


def bar_chart(bars: Sequence[Bar], title: str, css_class: str) -> Markup:
    """Horizontal bars from zero, labelled on the left, their shown value on the right."""
    width, row, top, label_width, value_width = 720, 26, 30, 190, 150
    height = top + row * max(len(bars), 1) + 8
    svg = _svg(width, height, title, css_class)
    _text(svg, 0, 18, title, css="chart-title")
    if not bars:
        return _empty(svg, width, height, "nothing to show")
    scale = _Axis.spanning([bar.value for bar in bars], label_width, width - value_width)
    for index, bar in enumerate(bars):
        middle = top + row * index + row / 2
        start, end = sorted((scale(0), scale(bar.value)))
        _text(svg, label_width - 8, middle + 4, bar.label, anchor="end")
        ET.SubElement(svg, "rect", x=f"{start:.1f}", y=f"{middle - 8:.1f}",
                      width=f"{end - start:.1f}", height="16", fill=BAR_COLOUR)
        _text(svg, end + 6, middle + 4, bar.shown)
    return _markup(svg)


def trend_chart(points: Sequence[TrendPoint], title: str, unit: str, css_class: str) -> Markup:
    """A small trend over runs: one dot per measured run, coloured by verdict, labelled axes."""
    width, height, left, right, top, bottom = 340, 130, 92, 14, 28, 30
    svg = _svg(width, height, title, css_class)
    _text(svg, 0, 16, title, css="chart-title")
    measured = [(index, point) for index, point in enumerate(points) if point.value is not None]
    if not measured:
        return _empty(svg, width, height, "not measured")
    x = _Axis(-0.5, len(points) - 0.5, left, width - right)
    y = _Axis.spanning([point.value for _, point in measured], height - bottom, top)
    for value in (y.low, y.high):
        _text(svg, left - 6, y(value) + 4, f"{value:.3g} {unit}", anchor="end")
    ET.SubElement(svg, "line", x1=str(left), y1=str(top), x2=str(left), y2=str(height - bottom),
                  stroke=AXIS_COLOUR)
    ET.SubElement(svg, "line", x1=str(left), y1=str(height - bottom), x2=str(width - right),
                  y2=str(height - bottom), stroke=AXIS_COLOUR)
    if len(points) == 1:
        _text(svg, x(0), height - 10, points[0].label, anchor="middle")
    else:
        _text(svg, left, height - 10, points[0].label)
        _text(svg, width - right, height - 10, points[-1].label, anchor="end")
    ET.SubElement(svg, "polyline", fill="none", stroke=AXIS_COLOUR, points=" ".join(
        f"{x(index):.1f},{y(point.value):.1f}" for index, point in measured))
    for index, point in measured:
        dot = ET.SubElement(svg, "circle", cx=f"{x(index):.1f}", cy=f"{y(point.value):.1f}",
                            r="4", fill=VERDICT_COLOURS.get(point.verdict, AXIS_COLOUR),
                            **{"class": "run"})
        ET.SubElement(dot, "title").text = (f"{point.label}: {point.value:.6g} {unit} "
                                            f"({point.verdict})")
    return _markup(svg)


def _svg(width: int, height: int, title: str, css_class: str) -> ET.Element:
    svg = ET.Element("svg", xmlns=SVG_NAMESPACE, width=str(width), height=str(height),
                     viewBox=f"0 0 {width} {height}", role="img",
                     **{"class": f"chart {css_class}", "aria-label": title})
    ET.SubElement(svg, "title").text = title
    return svg


def _grid(svg: ET.Element, x: _Axis, y: _Axis, x_label: str, y_label: str) -> None:
    """Axes with four ticks each, tick values and axis labels."""
    for step in range(5):
        x_value = x.low + (x.high - x.low) * step / 4
        y_value = y.low + (y.high - y.low) * step / 4
        ET.SubElement(svg, "line", x1=f"{x.start}", x2=f"{x.end}", y1=f"{y(y_value):.1f}",
                      y2=f"{y(y_value):.1f}", stroke="#d0d7de" if step else AXIS_COLOUR)
        _text(svg, x.start - 6, y(y_value) + 4, f"{y_value:.3g}", anchor="end")
        _text(svg, x(x_value), y.start + 16, f"{x_value:.3g}", anchor="middle")
    ET.SubElement(svg, "line", x1=f"{x.start}", x2=f"{x.start}", y1=f"{y.start}",
                  y2=f"{y.end}", stroke=AXIS_COLOUR)
    _text(svg, (x.start + x.end) / 2, y.start + 36, x_label, anchor="middle")
    _text(svg, 4, y.end - 14, y_label)


def _legend(svg: ET.Element, x: float, y: float, colour: str, name: str) -> None:
    ET.SubElement(svg, "rect", x=f"{x}", y=f"{y - 9}", width="12", height="12", fill=colour)
    _text(svg, x + 18, y + 1, name)


def _text(svg: ET.Element, x: float, y: float, content: str, anchor: str = "start",
          css: str = "label") -> None:
    element = ET.SubElement(svg, "text", x=f"{x:.1f}", y=f"{y:.1f}",
                            **{"text-anchor": anchor, "class": css})
    element.text = content


def _empty(svg: ET.Element, width: int, height: int, message: str) -> Markup:
    _text(svg, width / 2, height / 2, message, anchor="middle", css="chart-empty")
    return _markup(svg)


def _markup(svg: ET.Element) -> Markup:
    return Markup(ET.tostring(svg, encoding="unicode"))
