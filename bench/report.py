"""Rows of the result table (our figure, its baseline, the ratio, the issue's target and
whether it is met) and their plain-text rendering."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Row:
    figure: str
    ours: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None  # None: no target, or not measured
    gap: str = ""  # "missed by X%" when a target is missed

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline

    def to_json(self) -> dict:
        return {**asdict(self), "ratio": None if self.ratio is None else round(self.ratio, 3)}


def at_least(figure: str, ours: float | None, unit: str, required: float, target: str, *,
             baseline: float | None = None, baseline_name: str = "") -> Row:
    """A "no less than" target: missed by the share of ``required`` not reached."""
    met = None if ours is None else ours >= required
    gap = "" if met in (None, True) else f"missed by {100 * (1 - ours / required):.0f}%"
    return Row(figure, ours, unit, baseline, baseline_name, target, met, gap)


def at_most(figure: str, ours: float | None, unit: str, limit: float, target: str, *,
            baseline: float | None = None, baseline_name: str = "") -> Row:
    met = None if ours is None else ours <= limit
    gap = "" if met in (None, True) else f"missed by {100 * (ours / limit - 1):.0f}%"
    return Row(figure, ours, unit, baseline, baseline_name, target, met, gap)


def info(figure: str, ours: float | None, unit: str, *, baseline: float | None = None,
         baseline_name: str = "") -> Row:
    return Row(figure, ours, unit, baseline, baseline_name)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def table(rows: list[Row]) -> str:
    header = ("figure", "ours", "unit", "baseline", "ratio", "target", "verdict")
    lines = [header]
    for r in rows:
        verdict = {True: "met", False: r.gap or "missed", None: ""}[r.met]
        baseline = (f"{_number(r.baseline)} ({r.baseline_name})" if r.baseline is not None
                    else "")
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        lines.append((r.figure, _number(r.ours), r.unit, baseline, ratio, r.target, verdict))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
