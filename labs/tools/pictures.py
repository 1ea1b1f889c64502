"""Draw the lab notebooks' pictures (SVG): arrays as rows or grids of cells, threads as coloured
boxes, arrows from threads to the elements they touch.

Run ``python labs/tools/pictures.py`` after changing a picture; it rewrites
``labs/source/<lab>/pictures/*.svg``. The pictures are plain SVG so they show in JupyterLab,
Notebook 7, GitHub and nbconvert's HTML alike.
"""

from __future__ import annotations

from pathlib import Path

CELL = 34
#: one colour per block (colour-blind-safe palette, Okabe and Ito)
BLOCK_COLOURS = ["#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442", "#999999"]
IDLE = "#eeeeee"
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


class Svg:
    """A small SVG canvas that grows to fit what is drawn."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.w = 0.0
        self.h = 0.0

    def _fit(self, x: float, y: float) -> None:
        self.w = max(self.w, x + 10)
        self.h = max(self.h, y + 10)

    def rect(self, x: float, y: float, w: float, h: float, fill: str, text: str = "", stroke: str = "#333",
             dash: bool = False, size: int = 12) -> None:
        d = " stroke-dasharray='4 3'" if dash else ""
        self.parts.append(f"<rect x='{x}' y='{y}' width='{w}' height='{h}' fill='{fill}' stroke='{stroke}'{d}/>")
        if text:
            self.text(x + w / 2, y + h / 2 + size * 0.35, text, size=size)
        self._fit(x + w, y + h)

    def text(self, x: float, y: float, s: str, size: int = 12, anchor: str = "middle", bold: bool = False) -> None:
        weight = " font-weight='bold'" if bold else ""
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        self.parts.append(f"<text x='{x}' y='{y}' font-size='{size}' text-anchor='{anchor}' {FONT}{weight}>{s}</text>")
        self._fit(x + (len(s) * size * 0.6 if anchor == "start" else len(s) * size * 0.3), y)

    def arrow(self, x1: float, y1: float, x2: float, y2: float, colour: str = "#555") -> None:
        self.parts.append(f"<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='{colour}' stroke-width='1.4' "
                          "marker-end='url(#head)'/>")
        self._fit(max(x1, x2), max(y1, y2))

    def cross(self, x: float, y: float, w: float, h: float) -> None:
        self.parts.append(f"<path d='M{x + 6} {y + 6} L{x + w - 6} {y + h - 6} M{x + w - 6} {y + 6} L{x + 6} "
                          f"{y + h - 6}' stroke='#c00' stroke-width='2'/>")

    def row(self, x: float, y: float, labels: list[str], fills: list[str] | str = "#fff",
            name: str = "") -> list[tuple[float, float]]:
        """A 1-D array as a row of cells; returns each cell's (centre x, top y)."""
        if name:
            self.text(x - 8, y + CELL / 2 + 4, name, size=13, anchor="end", bold=True)
        out = []
        for i, lab in enumerate(labels):
            fill = fills[i] if isinstance(fills, list) else fills
            self.rect(x + i * CELL, y, CELL, CELL, fill, lab)
            out.append((x + i * CELL + CELL / 2, y))
        return out

    def grid(self, x: float, y: float, rows: int, cols: int, label=None, fill=None, name: str = "",
             cell: float = CELL) -> None:
        """A 2-D array as a grid of cells; `label(r, c)` and `fill(r, c)` give each cell's text and colour."""
        if name:
            self.text(x, y - 8, name, size=13, bold=True, anchor="start")
        for r in range(rows):
            for c in range(cols):
                self.rect(x + c * cell, y + r * cell, cell, cell, fill(r, c) if fill else "#fff",
                          label(r, c) if label else "", size=10)

    def save(self, path: Path) -> None:
        head = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.w:.0f}' height='{self.h:.0f}' "
                f"viewBox='0 0 {self.w:.0f} {self.h:.0f}'>"
                "<defs><marker id='head' markerWidth='8' markerHeight='8' refX='7' refY='4' orient='auto'>"
                "<path d='M0,0 L8,4 L0,8 z' fill='#555'/></marker></defs>"
                "<rect width='100%' height='100%' fill='white'/>")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(head + "".join(self.parts) + "</svg>\n")


def threads_row(s: Svg, x: float, y: float, n: int, per_block: int, active: int | None = None,
                name: str = "threads") -> list[tuple[float, float]]:
    """Threads as coloured boxes (colour = block), idle ones crossed out; returns their centres."""
    fills = [BLOCK_COLOURS[(i // per_block) % len(BLOCK_COLOURS)] for i in range(n)]
    labels = [str(i % per_block) for i in range(n)]
    cells = s.row(x, y, labels, fills, name)
    for i in range(n):
        if active is not None and i >= active:
            s.cross(x + i * CELL, y, CELL, CELL)
    return [(cx, y + CELL) for cx, _ in cells]


def map_picture(path: Path, n: int = 8, sources: tuple[str, ...] = ("x",), formula: str = "x[i] + 10") -> None:
    s = Svg()
    x0 = 110
    y = 20
    tops = []
    for k, name in enumerate(sources):
        tops.append(s.row(x0 + k * 0, y, [f"{name}{i}" for i in range(n)], "#fff", name))
        y += CELL + 12
    th = threads_row(s, x0, y + 30, n, n, name="threadIdx.x")
    for i in range(n):
        s.arrow(tops[-1][i][0], tops[-1][i][1] + CELL, th[i][0], y + 28)
    out = s.row(x0, y + 30 + CELL + 40, [f"o{i}" for i in range(n)], "#fff", "out")
    for i in range(n):
        s.arrow(th[i][0], th[i][1], out[i][0], out[i][1] - 2)
    s.text(x0, y + 30 + 2 * CELL + 70, f"thread i:  out[i] = {formula}", size=13, anchor="start")
    s.save(path)


def guard_picture(path: Path, n: int = 10, threads: int = 16) -> None:
    s = Svg()
    x0 = 110
    th = threads_row(s, x0, 20, threads, threads, active=n, name="threadIdx.x")
    out = s.row(x0, 20 + CELL + 50, [f"o{i}" for i in range(n)], "#fff", "out")
    for i in range(n):
        s.arrow(th[i][0], th[i][1], out[i][0], out[i][1] - 2)
    s.text(x0 + n * CELL + 8, 20 + CELL + 50 + CELL / 2 + 4, "← out.size ends here", size=12, anchor="start")
    s.text(x0, 20 + 2 * CELL + 85, f"{threads} threads, {n} elements: threads {n}..{threads - 1} must do nothing "
           "(if i < out.size)", size=13, anchor="start")
    s.save(path)


def blocks_picture(path: Path, n: int = 13, per_block: int = 4) -> None:
    s = Svg()
    x0 = 110
    nblocks = -(-n // per_block)
    total = nblocks * per_block
    th = threads_row(s, x0, 40, total, per_block, active=n, name="threadIdx.x")
    for b in range(nblocks):
        s.text(x0 + (b * per_block + per_block / 2) * CELL, 30, f"blockIdx.x = {b}", size=12)
    fills = [BLOCK_COLOURS[(i // per_block) % len(BLOCK_COLOURS)] for i in range(n)]
    out = s.row(x0, 40 + CELL + 50, [str(i) for i in range(n)], fills, "out")
    for i in range(n):
        s.arrow(th[i][0], th[i][1], out[i][0], out[i][1] - 2)
    s.text(x0, 40 + 2 * CELL + 85, f"blockDim.x = {per_block}: element i = blockIdx.x * blockDim.x + threadIdx.x; "
           f"{nblocks} blocks = ceil({n} / {per_block})", size=13, anchor="start")
    s.save(path)


def map2d_picture(path: Path, rows: int = 3, cols: int = 5, bx: int = 6, by: int = 4) -> None:
    s = Svg()
    x0, y0 = 30, 40
    s.grid(x0, y0, by, bx, label=lambda r, c: f"{c},{r}",
           fill=lambda r, c: BLOCK_COLOURS[0] if r < rows and c < cols else IDLE, name="threads (x, y) of one block")
    for r in range(by):
        for c in range(bx):
            if not (r < rows and c < cols):
                s.cross(x0 + c * CELL, y0 + r * CELL, CELL, CELL)
    x1 = x0 + bx * CELL + 60
    s.grid(x1, y0, rows, cols, label=lambda r, c: f"[{r},{c}]", name=f"a and out: {rows} rows x {cols} columns")
    s.arrow(x0 + bx * CELL + 8, y0 + CELL, x1 - 6, y0 + CELL)
    s.text(x0, y0 + by * CELL + 28, "thread (x, y) handles out[y, x]: x = column (threadIdx.x), y = row (threadIdx.y)",
           size=13, anchor="start")
    s.text(x0, y0 + by * CELL + 48, "crossed threads fall outside the array and must do nothing", size=13,
           anchor="start")
    s.save(path)


def broadcast_picture(path: Path, rows: int = 3, cols: int = 4) -> None:
    s = Svg()
    c = 52
    x0, y0 = 100, 40
    s.grid(x0 - c - 20, y0 + c + 20, rows, 1, label=lambda r, _: f"a{r}", fill=lambda r, _: "#fde9c8", name="a",
           cell=c)
    s.grid(x0, y0, 1, cols, label=lambda _, k: f"b{k}", fill=lambda _, k: "#d7eefa", name="b", cell=c)
    s.grid(x0, y0 + c + 20, rows, cols, label=lambda r, k: f"a{r}+b{k}", fill=lambda r, k: "#fff", cell=c)
    s.text(x0 + cols * c + 12, y0 + c + 20 + rows * c / 2, "out", size=13, bold=True, anchor="start")
    s.text(20, y0 + c + 20 + rows * c + 30, "out[r, c] = a[r] + b[c]: each value of a is used by a whole row, "
           "each value of b by a whole column", size=13, anchor="start")
    s.save(path)


def blocks2d_picture(path: Path, rows: int = 6, cols: int = 10, bx: int = 4, by: int = 4) -> None:
    s = Svg()
    x0, y0 = 30, 40
    gx = -(-cols // bx)

    def fill(r: int, c: int) -> str:
        return BLOCK_COLOURS[((r // by) * gx + c // bx) % len(BLOCK_COLOURS)]

    s.grid(x0, y0, rows, cols, label=lambda r, c: f"{c % bx},{r % by}", fill=fill,
           name=f"out: {rows} x {cols}, blocks of {bx} x {by} threads (label: threadIdx.x, threadIdx.y)", cell=30)
    s.text(x0, y0 + rows * 30 + 26, f"grid = (ceil({cols}/{bx}), ceil({rows}/{by})) = ({gx}, {-(-rows // by)}) blocks; "
           "colour = block; blocks on the right and bottom edges are partly outside", size=13, anchor="start")
    s.text(x0, y0 + rows * 30 + 46, "column = blockIdx.x * blockDim.x + threadIdx.x,   "
           "row = blockIdx.y * blockDim.y + threadIdx.y", size=13, anchor="start")
    s.save(path)


def stencil_picture(path: Path, n: int = 8) -> None:
    s = Svg()
    x0 = 40
    s.row(x0 + CELL, 20, [f"x{i}" for i in range(n)], "#fff", "")
    s.rect(x0, 20, CELL, CELL, IDLE, "0", dash=True)
    s.rect(x0 + (n + 1) * CELL, 20, CELL, CELL, IDLE, "0", dash=True)
    s.text(x0 - 8, 20 + CELL / 2 + 4, "x", size=13, anchor="end", bold=True)
    out = s.row(x0 + CELL, 20 + CELL + 70, [f"o{i}" for i in range(n)], "#fff", "out")
    k = 3
    for d in (-1, 0, 1):
        sx = x0 + CELL + (k + d) * CELL + CELL / 2
        s.arrow(sx, 20 + CELL, out[k][0], out[k][1] - 2)
    for d in (-1, 0, 1):
        s.arrow(x0 + CELL + d * CELL + CELL / 2, 20 + CELL, out[0][0], out[0][1] - 2, colour="#aaa")
    s.text(x0, 20 + 2 * CELL + 100, "out[i] = (x[i-1] + x[i] + x[i+1]) / 3, with x = 0 outside the array "
           "(dashed cells)", size=13, anchor="start")
    s.save(path)


def grid_picture(path: Path, n: int = 10, per_block: int = 4) -> None:
    """Lab 0: a grid of blocks of threads covering an array, the last block partly idle."""
    blocks_picture(path, n, per_block)


def main() -> None:
    root = Path(__file__).resolve().parents[1] / "source"
    lab0 = root / "lab00-platform" / "pictures"
    grid_picture(lab0 / "grid.svg")
    lab1 = root / "lab01-simt-basics" / "pictures"
    map_picture(lab1 / "map.svg")
    map_picture(lab1 / "zip.svg", sources=("a", "b"), formula="a[i] + b[i]")
    guard_picture(lab1 / "guard.svg")
    map2d_picture(lab1 / "map2d.svg")
    broadcast_picture(lab1 / "broadcast.svg")
    blocks_picture(lab1 / "blocks.svg")
    blocks2d_picture(lab1 / "blocks2d.svg")
    stencil_picture(lab1 / "stencil.svg")


if __name__ == "__main__":
    main()
