"""Training-curve PNG from the trainer's CSV, drawn with numpy and zlib only (no plotting library).

Usage::

    cd labs/models && python -m tinygpt.plot   # reads training_curve.csv, writes training_curve.png

Left panel: training loss (mean over each logging window, log scale) against step. Right panel:
greedy error rate (100% - exact match) on the monitoring subset of the held-out set, log scale,
with the 1% error (99% exact match) target dashed.
"""

from __future__ import annotations

import argparse
import csv
import math
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

from . import SHIPPED_CURVE_CSV, SHIPPED_CURVE_PNG

# A 5x7 bitmap font for the characters the labels use; '#' is ink.
_GLYPHS = {
    "A": ".###.|#...#|#...#|#####|#...#|#...#|#...#", "B": "####.|#...#|#...#|####.|#...#|#...#|####.",
    "C": ".###.|#...#|#....|#....|#....|#...#|.###.", "D": "####.|#...#|#...#|#...#|#...#|#...#|####.",
    "E": "#####|#....|#....|####.|#....|#....|#####", "F": "#####|#....|#....|####.|#....|#....|#....",
    "G": ".###.|#...#|#....|#.###|#...#|#...#|.####", "H": "#...#|#...#|#...#|#####|#...#|#...#|#...#",
    "I": ".###.|..#..|..#..|..#..|..#..|..#..|.###.", "J": "..###|...#.|...#.|...#.|...#.|#..#.|.##..",
    "K": "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#", "L": "#....|#....|#....|#....|#....|#....|#####",
    "M": "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#", "N": "#...#|#...#|##..#|#.#.#|#..##|#...#|#...#",
    "O": ".###.|#...#|#...#|#...#|#...#|#...#|.###.", "P": "####.|#...#|#...#|####.|#....|#....|#....",
    "Q": ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#", "R": "####.|#...#|#...#|####.|#.#..|#..#.|#...#",
    "S": ".####|#....|#....|.###.|....#|....#|####.", "T": "#####|..#..|..#..|..#..|..#..|..#..|..#..",
    "U": "#...#|#...#|#...#|#...#|#...#|#...#|.###.", "V": "#...#|#...#|#...#|#...#|#...#|.#.#.|..#..",
    "W": "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.", "X": "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#",
    "Y": "#...#|#...#|.#.#.|..#..|..#..|..#..|..#..", "Z": "#####|....#|...#.|..#..|.#...|#....|#####",
    "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.", "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
    "2": ".###.|#...#|....#|...#.|..#..|.#...|#####", "3": "#####|...#.|..#..|...#.|....#|#...#|.###.",
    "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.", "5": "#####|#....|####.|....#|....#|#...#|.###.",
    "6": "..##.|.#...|#....|####.|#...#|#...#|.###.", "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
    "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.", "9": ".###.|#...#|#...#|.####|....#|...#.|.##..",
    " ": ".....|.....|.....|.....|.....|.....|.....", ".": ".....|.....|.....|.....|.....|.##..|.##..",
    "-": ".....|.....|.....|.###.|.....|.....|.....", ",": ".....|.....|.....|.....|.##..|..#..|.#...",
    "(": "...#.|..#..|.#...|.#...|.#...|..#..|...#.", ")": ".#...|..#..|...#.|...#.|...#.|..#..|.#...",
    "%": "##...|##..#|...#.|..#..|.#...|#..##|...##", "=": ".....|.....|#####|.....|#####|.....|.....",
    "+": ".....|..#..|..#..|#####|..#..|..#..|.....", ":": ".....|.##..|.##..|.....|.##..|.##..|.....",
    "/": ".....|....#|...#.|..#..|.#...|#....|.....",
}  # fmt: skip
_FONT = {ch: np.array([[c == "#" for c in row] for row in g.split("|")]) for ch, g in _GLYPHS.items()}

WHITE, BLACK, GREY = (255, 255, 255), (30, 30, 30), (225, 225, 225)
BLUE, ORANGE, RED = (31, 119, 180), (230, 120, 20), (200, 40, 40)


class Canvas:
    """An RGB image with the few primitives a line chart needs."""

    def __init__(self, width: int, height: int) -> None:
        self.img = np.full((height, width, 3), 255, dtype=np.uint8)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        """Fill the rectangle [x0, x1) x [y0, y1), clipped to the image."""
        h, w = self.img.shape[:2]
        self.img[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)] = color

    def line(self, xs: np.ndarray, ys: np.ndarray, color: tuple[int, int, int], width: int = 2, dash: int = 0) -> None:
        """Polyline through the points, densely sampled; ``dash`` > 0 draws dashes that long."""
        pts_x: list[np.ndarray] = []
        pts_y: list[np.ndarray] = []
        for i in range(len(xs) - 1):
            n = int(max(abs(xs[i + 1] - xs[i]), abs(ys[i + 1] - ys[i]))) + 2
            s = np.linspace(0.0, 1.0, n)
            pts_x.append(xs[i] + s * (xs[i + 1] - xs[i]))
            pts_y.append(ys[i] + s * (ys[i + 1] - ys[i]))
        if not pts_x:
            return
        px, py = np.concatenate(pts_x), np.concatenate(pts_y)
        if dash:
            keep = (np.arange(px.size) // dash) % 2 == 0
            px, py = px[keep], py[keep]
        h, w = self.img.shape[:2]
        for dx in range(width):
            for dy in range(width):
                cx = np.clip(np.round(px).astype(int) + dx - width // 2, 0, w - 1)
                cy = np.clip(np.round(py).astype(int) + dy - width // 2, 0, h - 1)
                self.img[cy, cx] = color

    def text(self, x: int, y: int, s: str, color: tuple[int, int, int] = BLACK, scale: int = 2,
             anchor: str = "left", vertical: bool = False) -> None:  # fmt: skip
        """Draw ``s`` (upper-cased) with its top-left, top-centre or top-right at (x, y)."""
        glyphs = [_FONT.get(ch, _FONT[" "]) for ch in s.upper()]
        if not glyphs:
            return
        bitmap = np.concatenate([np.pad(g, ((0, 0), (0, 1))) for g in glyphs], axis=1)[:, :-1]
        bitmap = np.kron(bitmap, np.ones((scale, scale), dtype=bool))
        if vertical:
            bitmap = np.rot90(bitmap)
        bh, bw = bitmap.shape
        if anchor == "center":
            x -= bw // 2 if not vertical else 0
            y -= bh // 2 if vertical else 0
        elif anchor == "right":
            x -= bw
        h, w = self.img.shape[:2]
        ys, xs = np.nonzero(bitmap)
        ok = (ys + y >= 0) & (ys + y < h) & (xs + x >= 0) & (xs + x < w)
        self.img[ys[ok] + y, xs[ok] + x] = color

    def png(self) -> bytes:
        """The image as PNG bytes (8-bit RGB, no filtering, zlib level 9)."""
        h, w = self.img.shape[:2]

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), self.img.reshape(h, w * 3)], axis=1)
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        idat = zlib.compress(raw.tobytes(), 9)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _nice_step(span: float, target: int = 5) -> float:
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def _panel(
    cv: Canvas, box: tuple[int, int, int, int], x: np.ndarray, y: np.ndarray, *, log_y: bool,
    y_range: tuple[float, float], color: tuple[int, int, int], xlabel: str, ylabel: str,
    y_fmt: str = "{:g}", target: float | None = None, target_label: str = "",
) -> None:  # fmt: skip
    """One framed chart: grid, tick labels, axis labels, the curve and an optional dashed target line."""
    x0, y0, x1, y1 = box
    xmax = float(x.max()) if x.size else 1.0
    lo, hi = (math.log10(y_range[0]), math.log10(y_range[1])) if log_y else y_range

    def px(v: np.ndarray | float) -> np.ndarray:
        return x0 + (np.asarray(v, dtype=float) / xmax) * (x1 - x0)

    def py(v: np.ndarray | float) -> np.ndarray:
        v = np.log10(np.maximum(np.asarray(v, dtype=float), 1e-12)) if log_y else np.asarray(v, dtype=float)
        return y1 - (np.clip(v, lo, hi) - lo) / (hi - lo) * (y1 - y0)

    ticks_y = [10.0**e for e in range(math.ceil(lo), math.floor(hi) + 1)] if log_y else \
        list(np.arange(lo, hi + 1e-9, _nice_step(hi - lo)))  # fmt: skip
    labels = [y_fmt.format(v) if not log_y or v >= 0.01 else f"1E{round(math.log10(v))}" for v in ticks_y]
    for v, label in zip(ticks_y, labels, strict=True):
        yy = int(py(v))
        cv.rect(x0, yy, x1, yy + 1, GREY)
        cv.text(x0 - 10, yy - 7, label, anchor="right")
    step = _nice_step(xmax)
    for v in np.arange(0, xmax + 1e-9, step):
        xx = int(px(v))
        cv.rect(xx, y0, xx + 1, y1, GREY)
        cv.text(xx, y1 + 12, f"{int(v)}", anchor="center")
    if target is not None:
        cv.line(np.array([x0, x1], float), np.array([py(target)] * 2), RED, width=2, dash=8)
        cv.text(x1 - 6, int(py(target)) - 20, target_label, color=RED, anchor="right")
    for a, b, c, d in (
        (x0, y0, x1, y0 + 2),
        (x0, y1 - 1, x1, y1 + 1),
        (x0, y0, x0 + 2, y1),
        (x1 - 1, y0, x1 + 1, y1),
    ):
        cv.rect(a, b, c, d, BLACK)
    cv.line(px(x), py(y), color, width=2)
    cv.text((x0 + x1) // 2, y1 + 34, xlabel, anchor="center")
    widest = max((len(label) for label in labels), default=0) * 12
    cv.text(x0 - widest - 40, (y0 + y1) // 2, ylabel, anchor="center", vertical=True)


def read_curve(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of the trainer's CSV as float arrays (NaN where held-out accuracy was not measured)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path} has no rows")
    return {k: np.array([float(r[k]) if r[k] else math.nan for r in rows]) for k in rows[0]}


def render_curve(csv_path: str | Path, png_path: str | Path, title: str) -> Path:
    """Draw the two-panel training curve of ``csv_path`` into ``png_path``."""
    data = read_curve(csv_path)
    step, loss, acc = data["step"], data["loss"], data["heldout_exact"]
    cv = Canvas(1200, 520)
    cv.text(600, 18, title, anchor="center", scale=3)
    lo = 10 ** math.floor(math.log10(max(float(loss.min()), 1e-9)))
    hi = 10 ** math.ceil(math.log10(float(loss.max())))
    _panel(cv, (120, 70, 560, 430), step, loss, log_y=True, y_range=(lo, hi), color=BLUE,
           xlabel="STEP", ylabel="TRAIN LOSS (LOG)")  # fmt: skip
    seen = ~np.isnan(acc)
    # Error rather than accuracy, on a log axis, so the last percent (the 99% target) is visible;
    # an error of exactly 0 sits on the bottom edge.
    err = np.concatenate([[100.0], 100 * (1 - acc[seen])])
    _panel(cv, (730, 70, 1170, 430), np.concatenate([[0.0], step[seen]]), err, log_y=True,
           y_range=(0.1, 100.0), color=ORANGE, xlabel="STEP", ylabel="HELD-OUT ERROR % (LOG)", target=1.0,
           target_label="99% EXACT MATCH")  # fmt: skip
    n_eval = int(np.sum(seen))
    cv.text(1170, 494, f"{n_eval} EVALUATIONS OF A FIXED HELD-OUT SAMPLE. ZERO ERRORS SIT ON THE BOTTOM EDGE.",
            anchor="right")  # fmt: skip
    png_path = Path(png_path)
    png_path.write_bytes(cv.png())
    return png_path


def main(argv: list[str] | None = None) -> int:
    """CLI: render the CSV written by ``tinygpt.train`` to a PNG."""
    ap = argparse.ArgumentParser(prog="python -m tinygpt.plot", description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=SHIPPED_CURVE_CSV)
    ap.add_argument("--png", type=Path, default=SHIPPED_CURVE_PNG)
    ap.add_argument("--title", default="TINYGPT: 3-DIGIT ADDITION, SEED 0")
    args = ap.parse_args(argv)
    print(f"wrote {render_curve(args.csv, args.png, args.title)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
