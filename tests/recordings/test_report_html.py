"""The self-contained HTML report: escaping, embedded figures, tables, anchors, atomic writes,
and the page as headless Chromium renders it (skipped, with the reason, without Chromium)."""

from __future__ import annotations

import base64
import io
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from calcium_dynamics.recordings.report_html import (
    PNG_SIGNATURE,
    Figure,
    KeyValues,
    Note,
    Section,
    Table,
    render_report,
    write_report,
)
from tests.chromium import CHROMIUM, dump_dom, screenshot

MALICIOUS = "<script>alert(1)</script>"
MAX_ROWS = 20
N_ROWS = 27
SECTION_TITLES = ["Quality control", "Provenance & notes"]


class _Page(HTMLParser):
    """Tags, ids, links, image sources and the text of headings and table rows of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.imgs: list[dict[str, str | None]] = []
        self.h2: list[str] = []
        self.title = ""
        self.body_rows = 0
        self._in: list[str] = []
        self._table_class = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        if tag == "img":
            self.imgs.append(a)
        if tag == "table":
            self._table_class = str(a.get("class") or "")
        if tag == "tr" and "tbody" in self._in and self._table_class == "data":
            self.body_rows += 1
        if tag in ("h2", "title", "tbody"):
            self._in.append(tag)
            if tag == "h2":
                self.h2.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "h2":
            self.h2[-1] += data
        elif self._in and self._in[-1] == "title":
            self.title += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def _png(fig: plt.Figure, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    """A two-section page and what it should show."""
    fig, ax = plt.subplots(figsize=(6, 3))
    t = np.linspace(0, 10, 200)
    ax.plot(t, np.sin(t), color="k")
    ax.set_xlabel("time (s)")
    expected_line = _png(fig, dpi=100, bbox_inches="tight")  # what the report embeds

    raw_fig, raw_ax = plt.subplots(figsize=(3, 2))
    raw_ax.imshow(np.arange(12.0).reshape(3, 4))
    raw_png = _png(raw_fig, dpi=50)  # 150 × 100 pixels
    plt.close(raw_fig)

    frame = pd.DataFrame(
        {
            "trace_id": [f"<roi {i}>" for i in range(N_ROWS)],
            "nu": np.linspace(0.5, 3.0, N_ROWS),
            "n_spikes": np.arange(N_ROWS),
        }
    )
    frame.loc[0, "nu"] = np.nan
    sections = [
        Section(
            SECTION_TITLES[0],
            [
                "Noise level & example traces <b>not bold</b>.",
                Figure(fig, caption="ΔF/F of one trace", alt="sine wave"),
                Table(frame, caption="Per-trace QC", max_rows=MAX_ROWS),
            ],
        ),
        Section(
            SECTION_TITLES[1],
            [
                Note("All traces passed.", "info"),
                Note("3 traces have NaN <frames>.", "warning"),
                Note("Trials: no trials table.", "skipped"),
                KeyValues(
                    {
                        "commit": "abc1234",
                        "model": "cascade <global>",
                        "parameters": {"n_examples": 3, "window": [1, 2.5], "name": "a&b"},
                        "missing": None,
                    },
                    caption="Provenance",
                ),
                Figure(raw_png, caption="raw PNG", alt="image grid"),
            ],
        ),
    ]
    text = render_report(MALICIOUS, sections, subtitle="mouse1 / plane0", generated="2024-01-01")
    return {
        "html": text,
        "sizes": [mpimg.imread(io.BytesIO(expected_line), format="png").shape[1::-1], (150, 100)],
        "figure": fig,
    }


def test_page_is_static_and_escaped(report: dict[str, object]) -> None:
    text = str(report["html"])
    assert text.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in text
    assert not re.search(r"<\s*script", text, re.IGNORECASE)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.IGNORECASE)
    assert not re.search(r"@import|url\(", text, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in text
    assert "&lt;roi 0&gt;" in text
    page = _parse(text)
    assert "script" not in page.tags
    assert page.title == MALICIOUS  # as text, after unescaping
    assert page.h2 == ["Contents", *SECTION_TITLES]


def test_figures_are_embedded_pngs(report: dict[str, object]) -> None:
    page = _parse(str(report["html"]))
    assert len(page.imgs) == 2
    for img, size in zip(page.imgs, report["sizes"]):
        src = str(img["src"])
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data[:8] == PNG_SIGNATURE
        pixels = mpimg.imread(io.BytesIO(data), format="png")
        assert pixels.shape[1::-1] == tuple(size)
        assert (img["width"], img["height"]) == tuple(str(v) for v in size)
        assert img["alt"]
    assert report["figure"].number not in plt.get_fignums()  # closed after rendering


def test_table_rows_nan_and_formatting(report: dict[str, object]) -> None:
    text = str(report["html"])
    page = _parse(text)
    assert page.body_rows == MAX_ROWS
    assert f"… {N_ROWS - MAX_ROWS} more rows" in text
    first_row = re.search(r'<table class="data">.*?<tbody><tr>(.*?)</tr>', text, re.S)
    assert first_row is not None
    assert '<td class="num">—</td>' in first_row.group(1)  # NaN
    assert f"<td>&lt;roi {MAX_ROWS - 1}&gt;</td>" in text
    assert f"&lt;roi {MAX_ROWS}&gt;" not in text  # beyond max_rows
    assert '<td class="num">0.596</td>' in text  # 0.5 + 2.5/26 with "{:.3g}"


def test_notes_and_key_values(report: dict[str, object]) -> None:
    text = str(report["html"])
    for level in ("info", "warning", "skipped"):
        assert f'class="note note-{level}"' in text
    assert "NaN &lt;frames&gt;." in text
    assert (
        "<code>{&quot;n_examples&quot;: 3, &quot;window&quot;: [1, 2.5], "
        "&quot;name&quot;: &quot;a&amp;b&quot;}</code>"
    ) in text
    assert "<td>cascade &lt;global&gt;</td>" in text
    assert '<th scope="row">missing</th><td>—</td>' in text
    with pytest.raises(ValueError, match="note level"):
        Note("x", "error")  # type: ignore[arg-type]


def test_toc_anchors_resolve_and_are_unique(report: dict[str, object]) -> None:
    page = _parse(str(report["html"]))
    links = [h[1:] for h in page.hrefs if h.startswith("#")]
    assert len(links) == len(SECTION_TITLES)
    assert set(links) <= set(page.ids)
    assert len(page.ids) == len(set(page.ids))

    same = render_report("t", [Section("Spikes"), Section("Spikes"), Section("ΔF/F!", anchor="")])
    page = _parse(same)
    assert page.ids == ["spikes", "spikes-2", "f-f"]
    assert [h[1:] for h in page.hrefs] == page.ids
    assert "Generated " in same and " UTC" in same  # default timestamp


def test_write_report_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "reports" / "mouse1" / "plane0.html"
    assert write_report(target, "<p>first ν</p>") == target
    assert target.read_text(encoding="utf-8") == "<p>first ν</p>"
    write_report(target, "<p>second</p>")
    assert target.read_text(encoding="utf-8") == "<p>second</p>"
    assert list(target.parent.iterdir()) == [target]

    def fail(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(target, "<p>third</p>")
    assert target.read_text(encoding="utf-8") == "<p>second</p>"  # old page intact
    assert list(target.parent.iterdir()) == [target]  # no temporary file left


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_the_page(report: dict[str, object], tmp_path: Path) -> None:
    path = write_report(tmp_path / "report.html", str(report["html"]))
    dom = dump_dom(path, tmp_path / "profile-dom")
    rendered = _parse(dom)
    assert rendered.h2 == ["Contents", *SECTION_TITLES]
    assert len(rendered.imgs) == len(_parse(str(report["html"])).imgs) == 2
    assert "script" not in rendered.tags
    assert rendered.title == MALICIOUS

    shot = tmp_path / "report.png"
    result = screenshot(path, shot, tmp_path / "profile-shot", window=(1200, 1800))
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    assert pixels.shape[1] == 1200
    grey = pixels[..., :3].mean(axis=-1)
    assert float(grey.std()) > 0.02, "the screenshot is (nearly) blank"
