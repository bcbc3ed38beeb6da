"""A recording's report as one static, self-contained HTML page.

The page gathers what a run produced for one recording — QC figures, summary tables, notes on
steps that were skipped or need attention, and the provenance (commit, model names, versions,
checksums, parameters) — into a single ``.html`` file:

* figures are PNG images embedded as ``data:image/png;base64,…`` URIs;
* the stylesheet is inline and uses the system font stack only;
* there is no JavaScript and no reference to any outside resource (fonts, scripts,
  stylesheets, images).

So the file opens from disk in any browser, works offline, survives being e-mailed or
archived next to the data, and prints cleanly. Every piece of text (titles, captions, table
cells, keys and values) is HTML-escaped.

Build a page from :class:`Section` objects holding :class:`Figure`, :class:`Table`,
:class:`Note`, :class:`KeyValues` blocks or plain strings, render it with
:func:`render_report` and save it with :func:`write_report`::

    page = render_report(
        "Recording mouse1/plane0",
        [Section("Quality control", [Figure(fig, "ν histogram", "Histogram of ν")])],
    )
    write_report("data/08_reporting/reports/mouse1_plane0.html", page)
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
import struct
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from calcium_dynamics import __version__

__all__ = [
    "PNG_SIGNATURE",
    "Block",
    "Figure",
    "KeyValues",
    "Note",
    "Section",
    "Table",
    "figure_png",
    "png_size",
    "render_report",
    "slugify",
    "write_report",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MISSING = "—"  # shown for NaN / None / NA cells and values
_NUM = ' class="num"'

NoteLevel = Literal["info", "warning", "skipped"]
_NOTE_LABELS: dict[str, str] = {"info": "Note", "warning": "Warning", "skipped": "Skipped"}


# --------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------


@dataclass
class Figure:
    """A figure embedded as a PNG data URI.

    ``fig`` is a matplotlib figure (rendered at ``dpi`` with ``bbox_inches="tight"``, then
    closed) or the bytes of a PNG image. ``alt`` is the image's text alternative, ``caption``
    is shown below it.
    """

    fig: MplFigure | bytes
    caption: str = ""
    alt: str = ""
    dpi: int = 100


@dataclass
class Table:
    """A data frame as an HTML table.

    Floats are formatted with ``float_format``; NaN / None / NA cells show as "—". Only the
    first ``max_rows`` rows are shown, followed by a "… N more rows" note. ``index``: show the
    frame's index as the first column(s); ``None`` shows it unless it is a default
    ``RangeIndex``.
    """

    frame: pd.DataFrame
    caption: str = ""
    float_format: str = "{:.3g}"
    max_rows: int = 200
    index: bool | None = None


@dataclass
class Note:
    """A callout paragraph: ``info``, ``warning`` (yellow) or ``skipped`` (grey)."""

    text: str
    level: NoteLevel = "info"

    def __post_init__(self) -> None:
        if self.level not in _NOTE_LABELS:
            raise ValueError(
                f"note level must be one of {sorted(_NOTE_LABELS)}, not {self.level!r}"
            )


@dataclass
class KeyValues:
    """A two-column key / value table, e.g. the provenance of a run.

    Mappings, lists and tuples among the values show as compact JSON in ``<code>``.
    """

    items: Mapping[str, object]
    caption: str = ""


Block = Figure | Table | Note | KeyValues | str


@dataclass
class Section:
    """A titled part of the page; plain strings among ``blocks`` are paragraphs.

    ``anchor`` is the section's id (the table of contents links to it); by default it is made
    from the title. Anchors are made unique within a page.
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    anchor: str | None = None


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def slugify(text: str) -> str:
    """An id-safe slug of ``text``: ASCII lower case, digits and single hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug or "section"


def _unique_slugs(wanted: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for base in wanted:
        slug, k = base, 1
        while slug in seen:
            k += 1
            slug = f"{base}-{k}"
        seen.add(slug)
        out.append(slug)
    return out


def figure_png(fig: MplFigure, dpi: int = 100) -> bytes:
    """PNG bytes of a matplotlib figure (``bbox_inches="tight"``); the figure is closed."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels of a PNG image, read from its header."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return False


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _format_cell(value: object, float_format: str) -> str:
    if _is_missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return float_format.format(float(value))
    return str(value)


def _label(value: object) -> str:
    if isinstance(value, tuple):
        return " / ".join(str(v) for v in value)
    return str(value)


# --------------------------------------------------------------------------------------------
# Block renderers
# --------------------------------------------------------------------------------------------


def _render_figure(block: Figure) -> str:
    if isinstance(block.fig, (bytes, bytearray, memoryview)):
        data = bytes(block.fig)
    elif isinstance(block.fig, MplFigure):
        data = figure_png(block.fig, dpi=block.dpi)
    else:
        raise TypeError(f"Figure.fig must be a matplotlib Figure or PNG bytes, not {block.fig!r}")
    width, height = png_size(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    caption = f"<figcaption>{_esc(block.caption)}</figcaption>" if block.caption else ""
    return (
        f'<figure><img src="{uri}" alt="{_esc(block.alt or block.caption)}" '
        f'width="{width}" height="{height}">{caption}</figure>'
    )


def _render_table(block: Table) -> str:
    frame = block.frame
    show_index = block.index
    if show_index is None:
        show_index = not (
            isinstance(frame.index, pd.RangeIndex)
            and frame.index.start == 0
            and frame.index.step == 1
            and frame.index.name is None
        )
    shown = frame.iloc[: max(0, block.max_rows)]
    hidden = len(frame) - len(shown)

    index_names = [n if n is not None else "" for n in frame.index.names] if show_index else []
    numeric = [pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes]
    head = "".join(f'<th scope="col">{_esc(_label(n))}</th>' for n in index_names)
    head += "".join(
        f'<th scope="col"{_NUM if num else ""}>{_esc(_label(c))}</th>'
        for c, num in zip(frame.columns, numeric)
    )

    rows = []
    for key, values in zip(shown.index, shown.itertuples(index=False, name=None)):
        keys = key if isinstance(key, tuple) else (key,)
        cells = (
            "".join(
                f'<th scope="row">{_esc(_format_cell(k, block.float_format))}</th>' for k in keys
            )
            if show_index
            else ""
        )
        cells += "".join(
            f"<td{_NUM if num else ''}>{_esc(_format_cell(v, block.float_format))}</td>"
            for v, num in zip(values, numeric)
        )
        rows.append(f"<tr>{cells}</tr>")
    if not rows:
        span = len(index_names) + len(frame.columns) or 1
        rows.append(f'<tr><td colspan="{span}" class="empty">no rows</td></tr>')

    caption = f"<caption>{_esc(block.caption)}</caption>" if block.caption else ""
    more = (
        f'<p class="more-rows">… {hidden} more row{"s" if hidden != 1 else ""}</p>'
        if hidden > 0
        else ""
    )
    return (
        f'<div class="table-wrap"><table class="data">{caption}'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}</div>"
    )


def _render_note(block: Note) -> str:
    label = _NOTE_LABELS[block.level]
    return (
        f'<div class="note note-{block.level}" role="note">'
        f'<span class="note-label">{label}</span> {_esc(block.text)}</div>'
    )


def _render_value(value: object) -> str:
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        data = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        text = json.dumps(data, ensure_ascii=False, default=_json_default, separators=(", ", ": "))
        return f"<code>{_esc(text)}</code>"
    if _is_missing(value):
        return MISSING
    return _esc(value)


def _render_key_values(block: KeyValues) -> str:
    caption = f"<caption>{_esc(block.caption)}</caption>" if block.caption else ""
    rows = "".join(
        f'<tr><th scope="row">{_esc(key)}</th><td>{_render_value(value)}</td></tr>'
        for key, value in block.items.items()
    )
    return f'<div class="table-wrap"><table class="kv">{caption}<tbody>{rows}</tbody></table></div>'


def _render_block(block: Block) -> str:
    if isinstance(block, str):
        return f"<p>{_esc(block)}</p>"
    if isinstance(block, Figure):
        return _render_figure(block)
    if isinstance(block, Table):
        return _render_table(block)
    if isinstance(block, Note):
        return _render_note(block)
    if isinstance(block, KeyValues):
        return _render_key_values(block)
    raise TypeError(f"unknown report block: {type(block).__name__}")


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0 auto; padding: 1.5rem 1.25rem 3rem; max-width: 1100px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif;
  font-size: 15px; line-height: 1.5; color: #1f2328; background: #fff;
}
header { border-bottom: 2px solid #d0d7de; margin-bottom: 1.25rem; padding-bottom: .75rem; }
h1 { font-size: 1.75rem; margin: 0 0 .25rem; line-height: 1.25; }
h2 { font-size: 1.35rem; margin: 2rem 0 .75rem; padding-bottom: .25rem;
  border-bottom: 1px solid #d0d7de; }
.subtitle { font-size: 1.1rem; color: #424a53; margin: 0; }
.generated { font-size: .85rem; color: #59636e; margin: .35rem 0 0; }
nav.toc { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
  padding: .5rem 1rem; margin-bottom: 1rem; }
nav.toc h2 { font-size: 1rem; margin: .25rem 0; border: 0; padding: 0; }
nav.toc ol { margin: .25rem 0; padding-left: 1.5rem; }
a { color: #0550ae; }
figure { margin: 1rem 0; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption, caption { font-size: .9rem; color: #424a53; margin: .4rem 0; text-align: left; }
caption { caption-side: top; font-weight: 600; }
.table-wrap { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: .875rem; }
th, td { padding: .3rem .6rem; border: 1px solid #d0d7de; vertical-align: top; text-align: left; }
thead th { background: #eaeef2; }
tbody tr:nth-child(even) { background: #f6f8fa; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.empty { color: #59636e; font-style: italic; }
.more-rows { font-size: .85rem; color: #59636e; margin: .3rem 0 0; }
table.kv th { background: #f6f8fa; white-space: nowrap; }
table.kv tbody tr:nth-child(even) { background: transparent; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: .85em; white-space: pre-wrap; word-break: break-word; }
.note { margin: .75rem 0; padding: .6rem .9rem; border-left: 4px solid; border-radius: 4px; }
.note-label { font-weight: 700; margin-right: .25rem; }
.note-info { background: #ddf4ff; border-color: #0969da; }
.note-warning { background: #fff8c5; border-color: #d4a72c; }
.note-skipped { background: #eaeef2; border-color: #8c959f; color: #424a53; }
footer { margin-top: 3rem; padding-top: .75rem; border-top: 1px solid #d0d7de;
  font-size: .8rem; color: #59636e; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav.toc { break-after: page; }
  h2 { break-after: avoid; }
  figure, .note, tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_report(
    title: str,
    sections: list[Section],
    subtitle: str = "",
    generated: str | None = None,
) -> str:
    """The full HTML5 document of a report.

    ``generated`` is the timestamp shown in the header: ``None`` uses the current UTC time,
    an empty string shows none (for byte-identical pages across reruns). The table of contents
    links to every section; section ids are slugs of their anchors (or titles), made unique.
    """
    if generated is None:
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    anchors = _unique_slugs(slugify(s.anchor if s.anchor else s.title) for s in sections)

    toc = "".join(f'<li><a href="#{a}">{_esc(s.title)}</a></li>' for s, a in zip(sections, anchors))
    body = "\n".join(
        f'<section id="{a}">\n<h2>{_esc(s.title)}</h2>\n'
        + "\n".join(_render_block(b) for b in s.blocks)
        + "\n</section>"
        for s, a in zip(sections, anchors)
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="calcium_dynamics">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="subtitle">{_esc(subtitle)}</p>' if subtitle else "",
        f'<p class="generated">Generated {_esc(generated)}</p>' if generated else "",
        "</header>",
        f'<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>'
        if sections
        else "",
        "<main>",
        body,
        "</main>",
        "<footer>",
        f"calcium_dynamics {_esc(__version__)} · self-contained page: figures are embedded, "
        "no network access or scripts needed.",
        "</footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(p for p in parts if p != "") + "\n"


def write_report(path: str | os.PathLike[str], html_text: str) -> Path:
    """Write ``html_text`` to ``path`` (UTF-8) atomically and return the path.

    The text goes to a temporary file in the same folder, which then replaces ``path`` in one
    step: readers see the old page or the new one, never a partial file. Parent folders are
    created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    data = html_text.encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
