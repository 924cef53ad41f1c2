"""Throughput against concurrency as a PNG, drawn with Pillow (matplotlib is not one of
our dependencies): issuance through the API on the left, OCSP on the right."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

COLOURS = [(200, 40, 30), (30, 90, 200), (20, 150, 60), (150, 80, 170)]
PANEL_W, PANEL_H, MARGIN = 520, 360, 60


def _font(size: int):
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                 "/usr/share/fonts/truetype/arphic/uming.ttc"):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default()


def _panel(draw: ImageDraw.ImageDraw, left: int, title: str, unit: str,
           series: dict[str, list[tuple[int, float]]]) -> None:
    font, small = _font(15), _font(12)
    top = 40
    x0, y0 = left + MARGIN, top + PANEL_H - MARGIN  # origin
    x1, y1 = left + PANEL_W - 20, top + 20
    draw.text((left + MARGIN, 10), title, fill="black", font=font)
    draw.line([(x0, y1), (x0, y0), (x1, y0)], fill="black", width=1)
    points = [p for s in series.values() for p in s]
    if not points:
        draw.text((x0 + 20, (y0 + y1) // 2), "not measured", fill="grey", font=font)
        return
    xs = sorted({c for c, _ in points})
    top_value = max(v for _, v in points) * 1.15 or 1.0

    def at(c: int, v: float) -> tuple[float, float]:
        i = xs.index(c)
        x = x0 + 30 + i * (x1 - x0 - 60) / max(1, len(xs) - 1)
        return x, y0 - v / top_value * (y0 - y1)

    for step in range(5):
        value = top_value * step / 4
        _, y = at(xs[0], value)
        draw.line([(x0 - 4, y), (x1, y)], fill=(225, 225, 225))
        draw.text((left + 4, y - 7), f"{value:,.0f}", fill="black", font=small)
    for c in xs:
        x, _ = at(c, 0)
        draw.text((x - 6, y0 + 6), str(c), fill="black", font=small)
    draw.text((x0 + (x1 - x0) // 2 - 40, y0 + 24), "concurrency", fill="black", font=small)
    draw.text((left + 4, top), unit, fill="black", font=small)
    for n, (name, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        coords = [at(c, v) for c, v in sorted(values)]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=3)
        for x, y in coords:
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        draw.text((x0 + 12, y1 + 4 + 16 * n), name, fill=colour, font=small)


def throughput_chart(path: Path, issuance: dict[str, list[tuple[int, float]]],
                     ocsp: dict[str, list[tuple[int, float]]], caption: str) -> Path:
    image = Image.new("RGB", (2 * PANEL_W, PANEL_H + 70), "white")
    draw = ImageDraw.Draw(image)
    _panel(draw, 0, "Issuance through the API", "licences/s", issuance)
    _panel(draw, PANEL_W, "OCSP (same load tool: ab)", "responses/s", ocsp)
    draw.text((10, PANEL_H + 45), caption, fill=(90, 90, 90), font=_font(12))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
