"""Static HTML/SVG renderings of the visualizer models (`models.py`).

These are what executed notebooks, nbconvert exports and nbgrader feedback show (the widgets'
fallback), and what the interactive widgets put in their HTML panes. Plain strings, no
JavaScript: every number a student may hover over is also in an SVG ``<title>`` tooltip, and
the main figures carry ``data-simtlab-*`` attributes so tests (and screen readers) find them.
"""

from __future__ import annotations

import colorsys
import html
import math
from collections.abc import Iterable

from .models import (
    AccessMapModel,
    LaunchModel,
    MemoryChartModel,
    OccupancyModel,
    ReplayModel,
    ReportModel,
    RooflineModel,
    TimelineModel,
    WarpAccessModel,
)

CSS = """<style>
.simtlab-v{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:12px;color:#1e293b;
 background:#fff;padding:8px 10px;border:1px solid #e2e8f0;border-radius:6px;max-width:100%;overflow-x:auto;
 box-sizing:border-box}
.simtlab-v h4{margin:2px 0 6px 0;font-size:13px;font-weight:600}
.simtlab-v h5{margin:10px 0 4px 0;font-size:12px;font-weight:600;color:#334155}
.simtlab-v table{border-collapse:collapse;font-size:12px;margin:2px 0}
.simtlab-v td,.simtlab-v th{padding:2px 8px;border-bottom:1px solid #f1f5f9;text-align:right;vertical-align:top}
.simtlab-v th{color:#475569;font-weight:600;background:#f8fafc}
.simtlab-v.simtlab-v .src{font-family:ui-monospace,Menlo,Consolas,monospace;text-align:left;white-space:pre}
.simtlab-v.simtlab-v li.src{white-space:pre-wrap}
.simtlab-v.simtlab-v .left{text-align:left}
.simtlab-v tr.hot td{background:#fee2e2}
.simtlab-v tr.cur td{background:#fef9c3}
.simtlab-v .note{color:#64748b;font-size:11px;margin:2px 0}
.simtlab-v .kv{display:inline-block;margin:0 16px 4px 0}
.simtlab-v .kv b{font-size:14px}
.simtlab-v .warn{color:#b91c1c}
.simtlab-v .est{color:#7c3aed;font-size:10px;margin-left:2px}
.simtlab-v svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
.simtlab-v details summary{cursor:pointer;color:#334155;margin-top:6px}
</style>"""

MAX_SVG_CELLS = 4096
MAX_TIP_CELLS = 512


def esc(v: object) -> str:
    """HTML-escape a value."""
    return html.escape(str(v), quote=True)


def num(v: float | int | None, digits: int = 4) -> str:
    """A number for people: thousands separators, a few significant digits, 'n/a' when missing."""
    if v is None:
        return "n/a"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "∞" if v == math.inf else "n/a"
    if isinstance(v, int) or float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def nbytes(v: float | None) -> str:
    """Bytes with a binary unit."""
    if v is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(v) < 1024 or unit == "TiB":
            return f"{v:,.0f} {unit}" if unit == "B" else f"{v:,.1f} {unit}"
        v /= 1024
    return f"{v:.1f} TiB"


def rate(v: float | None, unit: str) -> str:
    """A rate with an SI prefix (e.g. 12.3 GFLOP/s)."""
    if v is None:
        return "n/a"
    for p, s in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= p:
            return f"{v / p:.3g} {s}{unit}"
    return f"{v:.3g} {unit}"


def hue(i: int) -> int:
    """A well-spread hue for block / SM number `i` (golden-angle steps from blue: block 0, in every picture, is not
    the red that marks problems)."""
    return int((200 + i * 137.508) % 360)


def block_color(i: int, light: int = 72) -> str:
    """A colour (#rrggbb) for block / SM / wave number `i` at lightness `light` percent."""
    r, g, b = colorsys.hls_to_rgb(hue(i) / 360.0, light / 100.0, 0.6)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def wrap(kind: str, body: str, title: str = "") -> str:
    """A complete fragment: the stylesheet and a container tagged with the visualizer's kind."""
    head = f"<h4>{esc(title)}</h4>" if title else ""
    return f'{CSS}<div class="simtlab-v simtlab-{kind}" data-simtlab="{kind}">{head}{body}</div>'


def kv(label: str, value: str, key: str = "") -> str:
    """'label: **value**'; `key` tags the value (``data-simtlab-value``) for tests and tools."""
    attr = f' data-simtlab-value="{esc(key)}"' if key else ""
    return f'<span class="kv">{esc(label)}: <b{attr}>{value}</b></span>'


def notes(items: Iterable[str]) -> str:
    """Small grey explanatory lines."""
    return "".join(f'<div class="note">{esc(n)}</div>' for n in items)


def dims(t: tuple) -> str:
    """A shape or index tuple as Python writes it: (3,) or (2, 4, 1)."""
    t = tuple(int(x) for x in t)
    return f"({t[0]},)" if len(t) == 1 else "(" + ", ".join(map(str, t)) + ")"


# -- launch view -------------------------------------------------------------------------------------

def launch_html(m: LaunchModel, *, color_by: str = "sm", max_blocks: int = 64) -> str:
    """Grid of blocks (colour: SM or wave), each with its warps as rows of lanes (dark: ever active)."""
    head = (kv("grid", dims(m.grid), "grid") + kv("block", dims(m.block), "block")
            + kv("threads", num(m.nblocks * m.nthreads), "threads")
            + kv("warps per block", num(m.warps_per_block), "warps_per_block")
            + kv("lanes ever active", f"{num(m.lanes_ever_active)} of {num(m.lanes_total)}", "active_lanes")
            + kv("SIMT efficiency", "n/a" if m.simt_efficiency is None else f"{m.simt_efficiency:.1f}%",
                 "simt_efficiency")
            + kv("SMs", num(m.sm_count)) + kv("blocks per SM", num(m.blocks_per_sm), "blocks_per_sm")
            + kv("waves", num(m.waves), "waves"))
    blocks = m.blocks[:max_blocks]
    ws = m.warp_size
    cell = 3 if ws >= 32 else 5
    bw = ws * cell + 10
    rows_per_warp = 5
    bh = 26 + m.warps_per_block * rows_per_warp
    gx = m.grid[0]
    if m.grid[2] == 1 and m.grid[1] > 1 and gx <= 16:
        pos = {b.linear: (b.index[0], b.index[1]) for b in blocks}
        cols = gx
    else:
        cols = min(8, max(1, len(blocks)))
        pos = {b.linear: (i % cols, i // cols) for i, b in enumerate(blocks)}
    nrows = max((p[1] for p in pos.values()), default=0) + 1
    W, H = cols * (bw + 8) + 8, nrows * (bh + 8) + 8
    parts = [f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" data-simtlab-blocks="{len(blocks)}">']
    for b in blocks:
        cx, cy = pos[b.linear]
        x, y = 8 + cx * (bw + 8), 8 + cy * (bh + 8)
        key = b.sm if color_by == "sm" else b.wave
        fill = block_color(key, 92) if b.ran else "#f1f5f9"
        stroke = block_color(key, 45)
        tip = (f"block {dims(b.index)} (linear {b.linear}): SM {b.sm}, slot {b.slot}, wave {b.wave}; "
               f"{sum(w.ever_active for w in b.warps)} of {sum(w.lanes for w in b.warps)} lanes ever active"
               + ("" if b.ran else " (not run: sampled launch)"))
        parts.append(f'<g><title>{esc(tip)}</title><rect x="{x}" y="{y}" width="{bw}" height="{bh}" rx="4" '
                     f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
                     f'<text x="{x + 5}" y="{y + 11}" font-size="9" fill="#0f172a">{esc(dims(b.index))}</text>'
                     f'<text x="{x + bw - 5}" y="{y + 11}" font-size="9" text-anchor="end" fill="{stroke}">'
                     f'SM {b.sm}{"" if color_by == "sm" else f" w{b.wave}"}</text>')
        for w in b.warps:
            wy = y + 18 + w.warp * rows_per_warp
            # runs of lanes with the same state, one rectangle each
            lane = 0
            while lane < w.lanes:
                on = (w.active_mask >> lane) & 1
                end = lane
                while end < w.lanes and ((w.active_mask >> end) & 1) == on:
                    end += 1
                parts.append(f'<rect x="{x + 5 + lane * cell}" y="{wy}" width="{(end - lane) * cell - 0.6}" '
                             f'height="{rows_per_warp - 1}" fill="{"#0f766e" if on else "#cbd5e1"}"/>')
                lane = end
        parts.append("</g>")
    parts.append("</svg>")
    legend_items = sorted({(b.sm if color_by == "sm" else b.wave) for b in blocks})[:16]
    legend = " ".join(f'<span style="display:inline-block;padding:0 6px;margin-right:4px;border-radius:3px;'
                      f'background:{block_color(k, 88)};border:1px solid {block_color(k, 45)}">'
                      f'{"SM" if color_by == "sm" else "wave"} {k}</span>' for k in legend_items)
    foot = [f"each block: its warps as rows of {ws} lanes; dark lanes executed at least one recorded "
            f"{'statement' if m.warp_source == 'statements' else 'memory instruction'}",
            f"blocks are placed on SMs round-robin in waves (blocks per SM from {m.blocks_per_sm_source})"]
    if m.nblocks > len(blocks):
        foot.append(f"drawing blocks {blocks[0].linear}..{blocks[-1].linear} of {m.nblocks:,}" if blocks else "")
    return wrap("launch", head + f'<div class="note">{legend}</div>' + "".join(parts)
                + notes([f for f in foot if f] + [n for n in m.notes if not n.startswith("showing blocks")]),
                f"Launch of {m.kernel} on '{m.chip}'")


# -- memory access map -------------------------------------------------------------------------------

def _heat(v: float, top: float, h: int) -> str:
    if v <= 0 or top <= 0:
        return "#f8fafc"
    t = 0.25 + 0.75 * min(1.0, v / top)
    return f"hsl({h},70%,{int(96 - 50 * t)}%)"


def access_map_html(m: AccessMapModel, *, color_by: str = "block", max_px: int = 640, tips: bool | None = None) -> str:
    """The access map: one square per cell, coloured by the block that touched it (or read/write counts).

    `tips` puts a hover tooltip on every cell (who read and wrote it); by default only for maps of at most
    `MAX_TIP_CELLS` cells, so that static outputs stay small (the live widget always has them)."""
    nr, nc = m.cells
    size = max(4, min(28, max_px // max(nc, 1)))
    left, top = 52, 18
    W, H = left + nc * size + 4, top + nr * size + 4
    t = m.totals
    head = (kv("shape", dims(m.shape), "shape") + kv("dtype", esc(m.dtype))
            + kv("reads", num(t["reads"]), "reads") + kv("writes", num(t["writes"]), "writes")
            + (kv("atomics", num(t["atomics"]), "atomics") if t["atomics"] else "")
            + kv("max reads of one element", num(t["max_reads"]), "max_reads")
            + (kv("never touched", num(t["untouched"]), "untouched") if t["untouched"] >= 0 else "")
            + (kv("written more than once", num(t["rewritten"]), "rewritten") if t["rewritten"] > 0 else ""))
    lines = ", ".join(f"{k} at line{'s' if len(v) > 1 else ''} {', '.join(map(str, v))}" for k, v in m.lines.items())
    parts = [f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" data-simtlab-cells="{nr}x{nc}">'
             '<style>rect{stroke:#e2e8f0;stroke-width:.5}rect.rw{stroke:#dc2626;stroke-width:1.6}</style>']
    r0, r1, c0, c1 = m.window
    br, bc = m.cell
    step_c = max(1, int(math.ceil(30 / size)))
    for j in range(0, nc, step_c):
        parts.append(f'<text x="{left + j * size + 1}" y="{top - 5}" font-size="9" fill="#64748b">{c0 + j * bc}</text>')
    step_r = max(1, int(math.ceil(14 / size)))
    one_d = len(m.shape) <= 1 or not m.exact
    for i in range(0, nr, step_r):
        row = r0 + i * br
        label = row * m.layout[1] if one_d else row      # 1-D arrays are wrapped: label rows by element index
        parts.append(f'<text x="{left - 4}" y="{top + i * size + min(size, 12) - 2}" font-size="9" text-anchor="end" '
                     f'fill="#64748b">{label}</text>')
    top_r = float(m.reads.max(initial=0))
    top_w = float((m.writes + m.atomics).max(initial=0))
    tips = (nr * nc <= MAX_TIP_CELLS) if tips is None else (tips and nr * nc <= MAX_SVG_CELLS)
    labels: list[str] = []
    for i in range(nr):
        for j in range(nc):
            if m.elements[i, j] == 0:
                continue
            rd, wr, at = int(m.reads[i, j]), int(m.writes[i, j]), int(m.atomics[i, j])
            wb, rb = int(m.writer_block[i, j]), int(m.reader_block[i, j])
            if color_by == "reads":
                fill = _heat(rd, top_r, 215)
            elif color_by == "writes":
                fill = _heat(wr + at, top_w, 25)
            elif wb >= 0:
                fill = block_color(wb, 62)
            elif rb >= 0:
                fill = block_color(rb, 86)
            else:
                fill = "#f8fafc"
            x, y = left + j * size, top + i * size
            tip = f"<title>{esc(_cell_tip(m, i, j))}</title>" if tips else ""
            cls = ' class="rw"' if m.rewritten[i, j] else ""
            end = f">{tip}</rect>" if tip else "/>"
            parts.append(f'<rect{cls} x="{x}" y="{y}" width="{size}" height="{size}" fill="{fill}"{end}')
            if size >= 18:
                label = {"reads": rd, "writes": wr + at}.get(color_by, wb if wb >= 0 else (rb if rb >= 0 else ""))
                labels.append(f'<text x="{x + size // 2}" y="{y + size // 2 + 3}">{label}</text>')
    if labels:
        parts.append(f'<g font-size="{min(10, size // 2)}" text-anchor="middle" pointer-events="none">'
                     + "".join(labels) + "</g>")
    parts.append("</svg>")
    legend = {"block": "colour: block that first wrote the element (pale: only read, by that block); "
                       "number: that block's linear id",
              "reads": "colour and number: reads", "writes": "colour and number: writes (stores + atomics)"}[color_by]
    foot = [legend, "red outline: an element written more than once (by one thread or several: look for a race)"]
    if lines:
        foot.append("accessed " + lines)
    if t.get("dropped"):
        foot.append(f"{t['dropped']} accesses fell outside the array's view and were not counted")
    return wrap("memory-map", head + "".join(parts) + notes(foot + m.notes),
                f"Memory access map of '{m.array}'"
                + ("" if (r0, c0) == (0, 0) and (r1, c1) == m.layout else f" rows {r0}..{r1 - 1}, cols {c0}..{c1 - 1}"))


def _cell_tip(m: AccessMapModel, i: int, j: int) -> str:
    br, bc = m.cell
    r0, _, c0, _ = m.window
    row, col = r0 + i * br, c0 + j * bc
    nt = m.nthreads
    name = m.element_label(row, col) if br * bc == 1 and m.exact else f"rows {row}+{br}, cols {col}+{bc}"

    def who(g: int) -> str:
        if g < 0:
            return ""
        b, t = divmod(int(g), nt)
        return f" (first: block {b} thread {t})"

    s = f"{name}: read {int(m.reads[i, j])}x{who(int(m.reader[i, j]))}, written {int(m.writes[i, j])}x"
    if m.atomics[i, j]:
        s += f" + {int(m.atomics[i, j])} atomic"
    s += who(int(m.writer[i, j]))
    if m.multi_block[i, j]:
        s += "; several blocks"
    return s


# -- warp view ---------------------------------------------------------------------------------------

def warp_html(m: WarpAccessModel) -> str:
    """Lanes on top, sectors (global) or banks (shared) below, a line from each active lane to what it uses."""
    n = len(m.lanes)
    cw = 22
    left = 70
    W = left + max(n, m.banks if m.space == "shared" else 0, 8) * cw + 10
    parts = []
    where = f"line {m.line}: <span class='src'>{esc(m.text)}</span>"
    info = (f"{esc(m.kind)} of {esc(m.space)} array <b>{esc(m.array)}</b> ({m.itemsize}-byte elements) "
            f"by warp {m.warp} of block {dims(m.block)}, execution {m.execution + 1} of {m.executions} recorded")
    if m.space == "shared":
        head = (kv("active lanes", num(m.active_lanes), "active_lanes")
                + kv("wavefronts", num(m.wavefronts), "wavefronts")
                + kv("ideal", num(m.ideal_wavefronts), "ideal_wavefronts")
                + kv("bank conflicts", num(m.conflicts), "bank_conflicts")
                + kv("worst bank", f"{m.ways}-way", "ways"))
        H = 150
        parts.append(f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" data-simtlab-space="shared">')
        parts.append(f'<text x="4" y="26" font-size="10">lanes</text>'
                     f'<text x="4" y="{H - 22}" font-size="10">banks</text>')
        bank_x = {b: left + b * cw for b in range(m.banks)}
        conflicted = {b for b, words in m.bank_words.items() if len(words) > 1}
        for ln in m.lanes:
            if not ln.active:
                continue
            x1, x2 = left + ln.lane * cw + cw / 2, bank_x[ln.unit] + cw / 2
            col = "#dc2626" if ln.conflict else "#94a3b8"
            parts.append(f'<line x1="{x1}" y1="34" x2="{x2}" y2="{H - 44}" stroke="{col}" stroke-width="1"/>')
        for ln in m.lanes:
            x = left + ln.lane * cw
            fill = ("#fecaca" if ln.conflict else "#99f6e4") if ln.active else "#f1f5f9"
            tip = (f"lane {ln.lane} thread {dims(ln.thread)}: " + (
                f"byte {ln.offset} (word {ln.word}) -> bank {ln.unit}" if ln.active else "inactive"))
            parts.append(f'<g><title>{esc(tip)}</title><rect x="{x + 1}" y="16" width="{cw - 2}" height="18" rx="2" '
                         f'fill="{fill}" stroke="#64748b" stroke-width="0.5"/><text x="{x + cw / 2}" y="29" '
                         f'font-size="9" text-anchor="middle">{ln.lane}</text></g>')
        for b in range(m.banks):
            x = bank_x[b]
            words = m.bank_words.get(b, [])
            fill = "#fca5a5" if b in conflicted else ("#bae6fd" if words else "#f8fafc")
            tip = f"bank {b}: " + (f"words {', '.join(map(str, words))}" if words else "unused")
            parts.append(f'<g><title>{esc(tip)}</title><rect x="{x + 1}" y="{H - 44}" width="{cw - 2}" height="18" '
                         f'rx="2" fill="{fill}" stroke="#64748b" stroke-width="0.5"/><text x="{x + cw / 2}" '
                         f'y="{H - 31}" font-size="9" text-anchor="middle">{b}</text>'
                         + (f'<text x="{x + cw / 2}" y="{H - 14}" font-size="8" text-anchor="middle" fill="#b91c1c">'
                            f'{len(words)}x</text>' if len(words) > 1 else "") + "</g>")
        parts.append("</svg>")
        foot = [f"bank of a byte offset a = (a // {m.bank_width}) % {m.banks}; lanes asking one bank for different "
                "words are served in separate wavefronts (red); the same word is broadcast"] + m.notes
    else:
        ns = len(m.sectors)
        head = (kv("active lanes", num(m.active_lanes), "active_lanes") + kv("sectors", num(ns), "sectors")
                + kv("ideal", num(m.ideal_sectors), "ideal_sectors")
                + kv("bytes used / moved", f"{num(m.bytes_requested)} / {num(m.bytes_moved)}", "bytes")
                + kv("efficiency", f"{m.efficiency:.0f}%", "efficiency"))
        sw = max(cw - 4, min(110, (W - left) // max(ns, 1) - 4))
        Ws = max(W, left + ns * (sw + 4) + 10)
        base = min((a for a, _ in m.sectors), default=0)
        H = 160
        parts.append(f'<svg width="{Ws}" height="{H}" viewBox="0 0 {Ws} {H}" data-simtlab-space="{esc(m.space)}">')
        parts.append(f'<text x="4" y="26" font-size="10">lanes</text><text x="4" y="{H - 26}" font-size="10">'
                     f'{m.sector_bytes}-byte sectors</text>')
        sx = {addr: left + k * (sw + 4) for k, (addr, _) in enumerate(m.sectors)}
        lane_color = {}
        for k, (_, lanes) in enumerate(m.sectors):
            for ln in lanes:
                lane_color.setdefault(ln, block_color(k, 70))
        for k, (addr, lanes) in enumerate(m.sectors):
            for ln in lanes:
                x1 = left + ln * cw + cw / 2
                parts.append(f'<line x1="{x1}" y1="34" x2="{sx[addr] + sw / 2}" y2="{H - 54}" '
                             f'stroke="{block_color(k, 45)}" stroke-width="1"/>')
        for ln in m.lanes:
            x = left + ln.lane * cw
            fill = lane_color.get(ln.lane, "#f1f5f9") if ln.active else "#f1f5f9"
            tip = f"lane {ln.lane} thread {dims(ln.thread)}: " + (
                f"{m.array}[{ln.element}] byte offset {ln.offset} -> sector {ln.unit}" if ln.active else "inactive")
            parts.append(f'<g><title>{esc(tip)}</title><rect x="{x + 1}" y="16" width="{cw - 2}" height="18" rx="2" '
                         f'fill="{fill}" stroke="#64748b" stroke-width="0.5"/><text x="{x + cw / 2}" y="29" '
                         f'font-size="9" text-anchor="middle">{ln.lane}</text></g>')
        for k, (addr, lanes) in enumerate(m.sectors):
            x = sx[addr]
            tip = f"sector at address {addr:#x}: lanes {', '.join(map(str, lanes))}"
            label = f"{addr:#x}" if sw >= 80 else (f"+{addr - base}" if sw >= 30 else str(k))
            count = f"{len(lanes)} lane(s)" if sw >= 50 else str(len(lanes))
            parts.append(f'<g><title>{esc(tip)}</title><rect x="{x}" y="{H - 54}" width="{sw}" height="20" rx="2" '
                         f'fill="{block_color(k, 80)}" stroke="{block_color(k, 40)}"/><text x="{x + sw / 2}" '
                         f'y="{H - 40}" font-size="{9 if sw >= 30 else 8}" text-anchor="middle">{label}</text>'
                         f'<text x="{x + sw / 2}" y="{H - 22}" font-size="8" text-anchor="middle" fill="#475569">'
                         f'{count}</text></g>')
        parts.append("</svg>")
        foot = [f"a warp's request is served in {m.sector_bytes}-byte sectors; ideal = the sectors the active lanes' "
                "bytes would need if they were contiguous and aligned"]
        if ns and sw < 80:
            foot.append(f"sector labels: byte offset from the first sector ({base:#x})" if sw >= 30
                        else "sectors numbered in address order (hover for addresses)")
        foot += m.notes
    body = f'<div>{where}</div><div class="note">{info}</div>{head}{"".join(parts)}{notes(foot)}'
    return wrap("warp", body, f"Warp view: {m.kind} of '{m.array}' at line {m.line}")


# -- profiler report ---------------------------------------------------------------------------------

def sol_html(m: ReportModel) -> str:
    """Speed-of-light bars: each unit's busy share of the estimated time (red above 80%)."""
    if not m.sol:
        return '<div class="note">no speed-of-light figures in this report (run it under the profiler)</div>'
    rows = []
    for label, v in m.sol:
        w = max(0.0, min(100.0, v))
        col = "#0f766e" if v < 60 else ("#ca8a04" if v < 80 else "#dc2626")
        rows.append(f'<tr><th style="text-align:left">{esc(label)}</th><td style="width:260px;text-align:left">'
                    f'<div style="background:#f1f5f9;width:240px;height:12px;border-radius:3px">'
                    f'<div style="background:{col};width:{w * 2.4:.1f}px;height:12px;border-radius:3px"></div></div>'
                    f'</td><td data-simtlab-sol="{esc(label)}">{v:.1f}%</td></tr>')
    return f"<table>{''.join(rows)}</table>"


def memory_chart_html(c: MemoryChartModel) -> str:
    """Boxes for the threads, L1/TEX (and shared memory), L2 and DRAM; between neighbours, the bytes read (arrow
    towards the threads, above) and written (arrow away from them, below), with the caches' hit rates."""
    W, H, bw, gap = 780, 190, 130, 80
    xs = [10 + k * (bw + gap) for k in range(4)]
    p = [f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" data-simtlab-chart="memory">',
         '<defs><marker id="simtlab-arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
         '<path d="M0,0 L8,4 L0,8 z" fill="#475569"/></marker></defs>']
    boxes = [("Threads", "registers", None), ("L1 / TEX", "hit rate", c.l1_hit), ("L2", "hit rate", c.l2_hit),
             ("DRAM", "device memory", None)]
    for x, (label, sub, hit) in zip(xs, boxes):
        detail = sub if hit is None and sub != "hit rate" else f"hit rate {_pct(hit)}"
        key = {"L1 / TEX": "l1_hit", "L2": "l2_hit"}.get(label, "")
        attr = f' data-simtlab-rate="{key}"' if key else ""
        p.append(f'<rect x="{x}" y="20" width="{bw}" height="64" rx="6" fill="#f8fafc" stroke="#94a3b8"/>'
                 f'<text x="{x + bw / 2}" y="44" font-size="12" text-anchor="middle" font-weight="600">'
                 f'{esc(label)}</text><text x="{x + bw / 2}" y="64" font-size="10" text-anchor="middle"{attr}>'
                 f'{esc(detail)}</text>')
    sx = xs[1]
    p.append(f'<rect x="{sx}" y="122" width="{bw}" height="60" rx="6" fill="#f8fafc" stroke="#94a3b8"/>'
             f'<text x="{sx + bw / 2}" y="140" font-size="12" text-anchor="middle" font-weight="600">'
             'Shared memory</text>'
             f'<text x="{sx + bw / 2}" y="156" font-size="10" text-anchor="middle">{num(c.shared_wavefronts)} '
             f'wavefronts</text><text x="{sx + bw / 2}" y="172" font-size="10" text-anchor="middle" '
             f'fill="{"#b91c1c" if c.bank_conflicts else "#334155"}" data-simtlab-bytes="bank_conflicts">'
             f'{num(c.bank_conflicts)} bank conflicts</text>')
    p.append(f'<line x1="{xs[0] + bw}" y1="80" x2="{sx}" y2="140" stroke="#475569" stroke-width="1" '
             'stroke-dasharray="3,2"/>')

    def pair(k: int, read: float | None, write: float | None, key: str) -> str:
        x1, x2 = xs[k] + bw + 4, xs[k + 1] - 4
        mid = (x1 + x2) / 2
        return (f'<line x1="{x2}" y1="44" x2="{x1}" y2="44" stroke="#475569" stroke-width="1.5" '
                f'marker-end="url(#simtlab-arrow)"/><text x="{mid}" y="38" font-size="10" text-anchor="middle" '
                f'data-simtlab-bytes="{key}_read">{esc(nbytes(read))}</text>'
                f'<line x1="{x1}" y1="62" x2="{x2}" y2="62" stroke="#475569" stroke-width="1.5" '
                f'marker-end="url(#simtlab-arrow)"/><text x="{mid}" y="76" font-size="10" text-anchor="middle" '
                f'data-simtlab-bytes="{key}_write">{esc(nbytes(write))}</text>')

    p.append(pair(0, c.l1_load, c.l1_store, "l1"))
    p.append(pair(1, c.l2_read, c.l2_write, "l2"))
    p.append(pair(2, c.dram_read, c.dram_write, "dram"))
    p.append("</svg>")
    spr = c.sectors_per_load_request
    sps = c.sectors_per_store_request
    extra = (kv("global load sectors / request", num(spr, 3), "sectors_per_load_request")
             + kv("global store sectors / request", num(sps, 3), "sectors_per_store_request"))
    return "".join(p) + f"<div>{extra}</div>" + notes(
        ["upper arrows: bytes read (towards the threads); lower arrows: bytes written; global memory goes through "
         "L1/TEX, shared memory has its own path", f"ideal for a full warp of 4-byte elements: 4 sectors of "
         f"{c.sector_bytes} bytes per request"])


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}%"


def lines_html(m: ReportModel, *, max_rows: int = 200) -> str:
    """The per-source-line table; hot lines highlighted, a heat bar on the hottest column."""
    if not m.lines:
        return '<div class="note">no source lines known for this kernel</div>'
    cols = m.line_columns[:10]
    head = "".join(f'<th title="{esc(c)}">{esc(m.line_titles.get(c, c))}</th>' for c in cols)
    rows = []
    for r in m.lines[:max_rows]:
        cells = "".join(f"<td>{num(r.values.get(c)) if c in r.values else ''}</td>" for c in cols)
        bar = (f'<div style="background:#ef4444;opacity:{0.25 + 0.75 * r.heat:.2f};height:8px;'
               f'width:{60 * r.heat:.0f}px"></div>' if r.heat > 0 else "")
        rows.append(f'<tr class="{"hot" if r.hot else ""}" data-simtlab-line="{r.line}"><td>{r.line}</td>'
                    f'<td class="src">{esc(r.text)}</td>{cells}<td style="width:64px">{bar}</td></tr>')
    heat = (f"heat: {m.line_titles.get(m.heat_column, m.heat_column)}" if m.heat_column
            else "no per-line counters (run under the profiler)")
    return (f"<table><tr><th>line</th><th style='text-align:left'>source</th>{head}<th>{esc(heat)}</th></tr>"
            + "".join(rows) + "</table>" + notes(["hot lines (red) are at least half as costly as the hottest"]))


def roofline_html(r: RooflineModel, *, width: int = 460, height: int = 280) -> str:
    """Log-log roofline: bandwidth slopes, compute ceilings, the kernel's point."""
    left, bottom, top, right = 56, 36, 12, 14
    pw, ph = width - left - right, height - top - bottom
    ai_lo, ai_hi = 1 / 64, 1024.0
    peaks = [r.peak_flops] + [v for _, v in r.ceilings]
    y_hi = max(peaks) * 2
    y_lo = min(r.bandwidths[0][1] * ai_lo, (r.achieved or y_hi) / 2)
    if r.intensity is not None and r.intensity > 0 and math.isfinite(r.intensity):
        ai_lo = min(ai_lo, r.intensity / 2)
        ai_hi = max(ai_hi, r.intensity * 2)

    def X(ai: float) -> float:
        return left + pw * (math.log10(ai) - math.log10(ai_lo)) / (math.log10(ai_hi) - math.log10(ai_lo))

    def Y(f: float) -> float:
        f = max(f, y_lo)
        return top + ph * (1 - (math.log10(f) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))

    p = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" data-simtlab-chart="roofline">',
         f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#cbd5e1"/>']
    d = 10 ** math.floor(math.log10(ai_lo))
    while d <= ai_hi:
        if d >= ai_lo:
            p.append(f'<line x1="{X(d):.1f}" y1="{top}" x2="{X(d):.1f}" y2="{top + ph}" stroke="#f1f5f9"/>'
                     f'<text x="{X(d):.1f}" y="{top + ph + 12}" font-size="9" text-anchor="middle">{d:g}</text>')
        d *= 10
    f = 10 ** math.ceil(math.log10(y_lo))
    while f <= y_hi:
        p.append(f'<line x1="{left}" y1="{Y(f):.1f}" x2="{left + pw}" y2="{Y(f):.1f}" stroke="#f1f5f9"/>'
                 f'<text x="{left - 4}" y="{Y(f) + 3:.1f}" font-size="9" text-anchor="end">{rate(f, "")}</text>')
        f *= 10
    styles = ["#0f766e", "#64748b"]
    peak = r.peak_flops
    for k, (label, bw) in enumerate(r.bandwidths):
        ridge = peak / bw
        dash = "" if k == 0 else ' stroke-dasharray="4,3"'
        p.append(f'<polyline points="{X(ai_lo):.1f},{Y(bw * ai_lo):.1f} {X(ridge):.1f},{Y(peak):.1f}" fill="none" '
                 f'stroke="{styles[min(k, 1)]}" stroke-width="{2 if k == 0 else 1}"{dash}/>')
        p.append(f'<text x="{X(ai_lo) + 4:.1f}" y="{Y(bw * ai_lo * 1.6) - 4:.1f}" font-size="9" '
                 f'fill="{styles[min(k, 1)]}">{esc(label)} {rate(bw, "B/s")}</text>')
    ridge0 = r.peak_flops / r.bandwidths[0][1]
    p.append(f'<line x1="{X(ridge0):.1f}" y1="{Y(r.peak_flops):.1f}" x2="{X(ai_hi):.1f}" y2="{Y(r.peak_flops):.1f}" '
             f'stroke="#0f766e" stroke-width="2"/><text x="{X(ai_hi) - 4:.1f}" y="{Y(r.peak_flops) - 4:.1f}" '
             f'font-size="9" text-anchor="end">{esc(r.peak_label)} {rate(r.peak_flops, "FLOP/s")}</text>')
    for label, v in r.ceilings:
        p.append(f'<line x1="{X(v / r.bandwidths[0][1]):.1f}" y1="{Y(v):.1f}" x2="{X(ai_hi):.1f}" y2="{Y(v):.1f}" '
                 f'stroke="#94a3b8" stroke-dasharray="2,3"/><text x="{X(ai_hi) - 4:.1f}" y="{Y(v) - 3:.1f}" '
                 f'font-size="8" text-anchor="end" fill="#64748b">{esc(label)}</text>')
    if r.intensity is not None and r.achieved is not None and math.isfinite(r.intensity):
        cx, cy = X(max(r.intensity, ai_lo)), Y(r.achieved)
        tip = (f"kernel: {r.intensity:.3g} FLOP/byte, {rate(r.achieved, 'FLOP/s')} (estimated), "
               f"{r.bound}-bound side of the ridge")
        p.append(f'<g data-simtlab-point="kernel"><title>{esc(tip)}</title><circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" '
                 f'fill="#dc2626" stroke="#7f1d1d"/></g>')
    p.append(f'<text x="{left + pw / 2}" y="{height - 4}" font-size="10" text-anchor="middle">arithmetic intensity '
             f'(FLOP per DRAM byte)</text>')
    p.append(f'<text x="12" y="{top + ph / 2}" font-size="10" text-anchor="middle" transform="rotate(-90 12 '
             f'{top + ph / 2})">FLOP/s</text></svg>')
    info = (kv("FLOPs", num(r.flops), "flops") + kv("DRAM bytes", nbytes(r.dram_bytes), "dram_bytes")
            + kv("intensity", "n/a" if r.intensity is None else f"{r.intensity:.3g} FLOP/B", "intensity")
            + kv("achieved", rate(r.achieved, "FLOP/s") + ('<span class="est">est.</span>' if r.achieved else ""),
                 "achieved")
            + kv("ridge", f"{r.ridge:.3g} FLOP/B"))
    return info + "".join(p) + notes(r.notes)


def _curve(points: list[tuple[int, float]], cur: int, label: str, unit: str, width: int = 220,
           height: int = 120) -> str:
    left, bottom, top = 30, 24, 8
    pw, ph = width - left - 8, height - top - bottom
    xs = [p[0] for p in points]
    lo, hi = min(xs), max(xs) or 1

    def X(v: float) -> float:
        return left + pw * (v - lo) / max(hi - lo, 1)

    def Y(v: float) -> float:
        return top + ph * (1 - v / 100.0)

    path = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in points)
    curv = next((y for x, y in points if x >= cur), points[-1][1])
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#cbd5e1"/>'
            f'<polyline points="{path}" fill="none" stroke="#0f766e" stroke-width="1.5"/>'
            f'<circle cx="{X(min(max(cur, lo), hi)):.1f}" cy="{Y(curv):.1f}" r="4" fill="#dc2626"/>'
            f'<text x="{left - 3}" y="{top + 8}" font-size="8" text-anchor="end">100%</text>'
            f'<text x="{left - 3}" y="{top + ph}" font-size="8" text-anchor="end">0</text>'
            f'<text x="{left}" y="{height - 10}" font-size="8">{lo}</text>'
            f'<text x="{left + pw}" y="{height - 10}" font-size="8" text-anchor="end">{hi}</text>'
            f'<text x="{left + pw / 2}" y="{height - 2}" font-size="9" text-anchor="middle">'
            f'{esc(label)} ({unit})</text>'
            "</svg>")


def occupancy_html(o: OccupancyModel) -> str:
    """The occupancy answer, the limit of each resource, and the three curves with the current point."""
    r = o.result
    lim = r.get("limits", {})
    rows = "".join(f"<tr{' class=hot' if k in r.get('limiter', []) else ''}><th style='text-align:left'>{esc(k)}</th>"
                   f"<td>{num(v)}</td></tr>" for k, v in lim.items())
    head = (kv("threads per block", num(o.threads), "threads")
            + kv("registers per thread", num(o.registers), "registers")
            + kv("shared memory per block", nbytes(o.shared), "shared")
            + kv("theoretical occupancy", f"{o.percent:.1f}%", "occupancy")
            + kv("blocks per SM", num(r.get("blocks_per_sm")), "blocks_per_sm"))
    curves = (_curve(o.by_threads, o.threads, "threads per block", "threads")
              + _curve(o.by_registers, o.registers, "registers per thread", "regs")
              + _curve([(x // 1024, y) for x, y in o.by_shared], o.shared // 1024, "shared memory per block", "KiB"))
    return (head + f"<div>{esc(o.explain())}</div>"
            + f"<table><tr><th style='text-align:left'>resource</th><th>blocks per SM it allows</th></tr>{rows}</table>"
            + f"<div>{curves}</div>"
            + notes([f"registers per thread: {o.registers_source}", f"chip '{o.chip}'; computed as the CUDA occupancy "
                     "calculator does (per-warp register allocation, shared memory allocation unit and reserve)"]))


def report_header_html(m: ReportModel) -> str:
    """The report's first lines: launch, chip, estimated time and what bounds it."""
    t = "n/a" if m.time_us is None else f"{m.time_us:,.3f} µs"
    head = (kv("grid", dims(m.grid)) + kv("block", dims(m.block)) + kv("chip", esc(m.chip))
            + kv("estimated time", t + '<span class="est">estimated</span>', "time_us")
            + (kv("bound", esc(m.bound), "bound") if m.bound else ""))
    extra = []
    if m.sampled:
        extra.append(m.sampled)
    if not m.profiled:
        extra.append("this launch was not profiled: run it inside %%profile or `with cuda.profile():` for metrics")
    return head + notes(extra + m.notes)


def findings_html(m: ReportModel) -> str:
    """The profiler's and sanitizer's findings, one per line."""
    if not m.findings:
        return ""
    items = "".join(f'<li class="src warn">{esc(f)}</li>' for f in m.findings)
    return f"<h5>Findings</h5><ul>{items}</ul>"


def metrics_table_html(m: ReportModel) -> str:
    """Every metric with its label, value, unit and Nsight Compute name (collapsed)."""
    if not m.metrics:
        return ""
    rows = "".join(f"<tr><td style='text-align:left'>{esc(d['label'])}</td><td>{num(d['value'])}</td>"
                   f"<td style='text-align:left'>{esc(d['unit'])}{' (estimated)' if d['estimated'] else ''}</td>"
                   f"<td class='src' style='color:#64748b'>{esc(d['name'])}</td></tr>" for d in m.metrics)
    return (f"<details><summary>all {len(m.metrics)} metrics (Nsight Compute names)</summary>"
            f"<table><tr><th>metric</th><th>value</th><th>unit</th><th>Nsight Compute name</th></tr>{rows}</table>"
            "</details>")


def report_html(m: ReportModel) -> str:
    """The whole profiler report as one static page (the widget shows the same sections in tabs)."""
    body = (report_header_html(m) + "<h5>Speed of light</h5>" + sol_html(m)
            + "<h5>Memory chart</h5>" + memory_chart_html(m.memory)
            + "<h5>Source lines</h5>" + lines_html(m)
            + "<h5>Roofline</h5>" + roofline_html(m.roofline)
            + "<h5>Occupancy</h5>" + occupancy_html(m.occupancy)
            + findings_html(m) + metrics_table_html(m))
    return wrap("report", body, f"Profile of {m.kernel}")


# -- timeline ----------------------------------------------------------------------------------------

def timeline_html(m: TimelineModel, *, max_sms: int = 32, width: int = 680) -> str:
    """One row per SM (a lane per co-resident block slot), a bar per block from its start to its end."""
    sms = min(m.sm_count, max_sms)
    slots = min(m.blocks_per_sm, 8)
    row_h = max(6, min(16, 48 // max(slots, 1)))
    sm_h = slots * row_h + 6
    left, top = 46, 18
    t_end = max((b[5] for b in m.bars), default=1.0)
    t_start = 0.0
    pw = width - left - 10
    H = top + sms * sm_h + 26

    def X(t: float) -> float:
        return left + pw * (t - t_start) / max(t_end - t_start, 1e-12)

    p = [f'<svg width="{width}" height="{H}" viewBox="0 0 {width} {H}" data-simtlab-bars="{len(m.bars)}">']
    for s in range(sms):
        y = top + s * sm_h
        p.append(f'<rect x="{left}" y="{y}" width="{pw}" height="{sm_h - 2}" fill="#f8fafc"/>'
                 f'<text x="{left - 4}" y="{y + sm_h / 2 + 3}" font-size="9" text-anchor="end">SM {s}</text>')
    if m.overhead_us and m.time_axis.startswith("µs"):
        p.append(f'<rect x="{left}" y="{top}" width="{X(m.overhead_us) - left:.1f}" height="{sms * sm_h}" '
                 f'fill="#e2e8f0"><title>launch overhead {m.overhead_us:g} µs</title></rect>')
    for blk, sm, slot, wave, t0, t1 in m.bars:
        if sm >= sms or slot >= slots:
            continue
        x0, x1 = X(t0), X(t1)
        y = top + sm * sm_h + slot * row_h + 2
        tip = f"block {blk}: SM {sm}, slot {slot}, wave {wave}, {t0:.3g}..{t1:.3g} {m.time_axis}"
        label = (f'<text x="{x0 + 2:.1f}" y="{y + row_h - 3}" font-size="{min(9, row_h - 2)}">{blk}</text>'
                 if x1 - x0 > 18 and row_h >= 9 else "")
        p.append(f'<g><title>{esc(tip)}</title><rect x="{x0:.1f}" y="{y}" width="{max(1.0, x1 - x0 - 1):.1f}" '
                 f'height="{row_h - 1}" fill="{block_color(wave, 70)}" stroke="{block_color(wave, 40)}" '
                 f'stroke-width="0.5"/>{label}</g>')
    for k in range(6):
        t = t_start + (t_end - t_start) * k / 5
        p.append(f'<text x="{X(t):.1f}" y="{H - 12}" font-size="9" text-anchor="middle">{t:.3g}</text>')
    p.append(f'<text x="{left + pw / 2}" y="{H - 1}" font-size="10" text-anchor="middle">{esc(m.time_axis)}</text>'
             "</svg>")
    head = (kv("SMs", num(m.sm_count)) + kv("blocks per SM", num(m.blocks_per_sm), "blocks_per_sm")
            + kv("waves", num(m.waves), "waves")
            + kv("estimated time", "n/a" if m.total_us is None else f"{m.total_us:,.3f} µs", "time_us"))
    extra = [f"schedule: {m.source}; colour = wave"]
    if m.sm_count > sms:
        extra.append(f"showing {sms} of {m.sm_count} SMs")
    if m.blocks_per_sm > slots:
        extra.append(f"showing {slots} of {m.blocks_per_sm} block slots per SM")
    return wrap("timeline", head + "".join(p) + notes(extra + m.notes), f"Timeline of {m.kernel} on '{m.chip}'")


# -- replay ------------------------------------------------------------------------------------------

def lanes_strip(active: list[bool], taken: list[bool] | None = None, cell: int = 14) -> str:
    """A row of lane squares: green active, grey inactive; branch outcome as a mark."""
    n = len(active)
    p = [f'<svg width="{n * cell + 2}" height="{cell + 4}" viewBox="0 0 {n * cell + 2} {cell + 4}">']
    for i, on in enumerate(active):
        fill = "#22c55e" if on else "#e2e8f0"
        p.append(f'<rect x="{1 + i * cell}" y="2" width="{cell - 2}" height="{cell}" rx="2" fill="{fill}">'
                 f'<title>lane {i}: {"active" if on else "inactive"}'
                 + ("" if taken is None or not on else f", condition {'true' if taken[i] else 'false'}")
                 + "</title></rect>")
        if taken is not None and on:
            mark = "✓" if taken[i] else "✗"
            p.append(f'<text x="{1 + i * cell + (cell - 2) / 2}" y="{cell - 1}" font-size="{cell - 5}" '
                     f'text-anchor="middle" fill="#0f172a">{mark}</text>')
    p.append("</svg>")
    return "".join(p)


def replay_step_html(m: ReplayModel, step: int) -> str:
    """One step of the replay: the source with the current line, the warp's lanes, the accesses."""
    if not m.steps:
        return wrap("replay", notes([f"warp {m.warp} of block {dims(m.block)} executed no statement"]),
                    f"Replay of {m.kernel}")
    step = min(max(0, int(step)), len(m.steps) - 1)
    s = m.steps[step]
    src_rows = "".join(f'<tr class="{"cur" if ln == s.line else ""}"><td>{"▶" if ln == s.line else ""}</td>'
                       f'<td>{ln}</td><td class="src">{esc(text)}</td></tr>' for ln, text in sorted(m.source.items()))
    nact = sum(s.active)
    head = (kv("step", f"{step + 1} of {len(m.steps)}", "step") + kv("line", str(s.line), "line")
            + kv("active lanes", f"{nact} of {m.lanes}", "active_lanes")
            + (kv("condition true", str(sum(bool(t) for t in s.taken)), "taken") if s.taken is not None else ""))
    acc_rows = []
    for arr, kind, _space, elems in s.accesses:
        cells = "".join(f"<td>{'' if e < 0 else e}</td>" for e in elems)
        acc_rows.append(f"<tr><th style='text-align:left'>{esc(kind)} {esc(arr)}[ ]</th>{cells}</tr>")
    for name, vals in sorted(s.values.items()):
        cells = "".join(f"<td>{_short(v) if a else ''}</td>" for v, a in zip(vals, s.active))
        acc_rows.append(f"<tr><th style='text-align:left' class='var'>{esc(name)}</th>{cells}</tr>")
    lane_head = "".join(f"<th>{i}</th>" for i in range(m.lanes))
    acc = (f"<table><tr><th style='text-align:left'>lane</th>{lane_head}</tr>{''.join(acc_rows)}</table>"
           if acc_rows else "")
    body = (f'<div>{head}</div><div class="src">{esc(s.text)}</div>{lanes_strip(s.active, s.taken)}{acc}'
            f"<table>{src_rows}</table>"
            + notes([f"block {dims(m.block)}, warp {m.warp} (threads {dims(m.threads[0])}..{dims(m.threads[-1])}); "
                     f"{s.kind}; green = lane active"] + m.notes))
    return wrap("replay", body, f"Replay of {m.kernel}: block {dims(m.block)}, warp {m.warp}")


def _short(v) -> str:
    """A lane's value in a narrow table cell."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return esc(str(v))


def lanes_text(active: list[bool], taken: list[bool] | None = None) -> str:
    """A compact text strip of a warp's lanes: ■ active, □ inactive; ✓/✗ for a branch's condition per lane."""
    if taken is None:
        return "".join("■" if a else "□" for a in active)
    return "".join(("✓" if t else "✗") if a else "·" for a, t in zip(active, taken))


def replay_html(m: ReplayModel, *, max_steps: int = 300) -> str:
    """The static replay: the whole trace of the warp as a table (a step per row)."""
    rows = []
    for s in m.steps[:max_steps]:
        acc = "; ".join(f"{k} {a}[{', '.join('·' if e < 0 else str(e) for e in el[:8])}{', …' if len(el) > 8 else ''}]"
                        for a, k, _, el in s.accesses)
        rows.append(f"<tr><td>{s.index + 1}</td><td>{s.line}</td><td class='src'>{esc(s.text)}</td>"
                    f"<td class='src' style='letter-spacing:-1px'>{lanes_text(s.active, s.taken)}</td>"
                    f"<td>{sum(s.active)}</td><td class='src'>{esc(acc)}</td></tr>")
    more = [f"first {max_steps} of {len(m.steps)} steps"] if len(m.steps) > max_steps else []
    if m.truncated:
        more.append("the trace was cut at the recorder's step limit")
    body = (kv("steps", num(len(m.steps)), "steps") + kv("lanes", num(m.lanes))
            + "<table><tr><th>step</th><th>line</th><th style='text-align:left'>source</th>"
              "<th style='text-align:left'>lanes (■ active, □ idle; ✓/✗ branch condition)</th><th>active</th>"
              "<th style='text-align:left'>elements accessed by the first lanes</th></tr>"
            + "".join(rows) + "</table>" + notes(more + m.notes))
    return wrap("replay", body, f"Replay of {m.kernel}: block {dims(m.block)}, warp {m.warp}")
