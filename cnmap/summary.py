"""The one-page summary of a run for a committee paper (HTML, and PDF from it), and the
limitations that the summary and ``methods.md`` state.

- :func:`summary_html` builds the page from a run's results (a pure function): the headline
  (how many residents live within the headline walk of how many organisations), four key
  figures, the equity chart (share within reach by national IMD decile), the coverage at
  every time limit, the thin areas with their reasons, the limitations, and the data,
  licences and attribution (OGL, ODbL);
- :func:`write_summary` writes ``summary.html`` and, when headless Chromium is available,
  ``summary.pdf`` from it (A4, one page); without Chromium the PDF is skipped with a note,
  never failing the run;
- :func:`limitations`, :func:`methods_limitations`, :func:`organisation_lines` and
  :func:`without_machine_paths` give ``methods.md`` its limitations section and keep machine
  paths out of it.

Every text that reaches the page (place, ward and area names, list labels, reasons, sources)
is escaped with :func:`cnmap.maps._safe.inert_html`; no template engine is used. The page is
self-contained: the chart is embedded as a data URI, nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnmap.maps._safe import inert_html

__all__ = [
    "SummaryFacts",
    "SummaryFiles",
    "summary_facts",
    "thin_rows",
    "limitations",
    "methods_limitations",
    "organisation_lines",
    "without_machine_paths",
    "attributions",
    "equity_chart_html",
    "summary_html",
    "html_to_pdf",
    "start_pdf",
    "start_summary",
    "PdfPrint",
    "SummaryJob",
    "write_summary",
    "CHROMIUM",
    "MAX_THIN_ROWS",
]

log = logging.getLogger(__name__)

#: Debian's Chromium (``apt-get install chromium``), used for the PDF when present.
CHROMIUM = Path("/usr/bin/chromium")
#: Thin areas listed on the page (the rest are counted and found in thin_lsoas.csv).
MAX_THIN_ROWS = 6
_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
    "--hide-scrollbars",
)


def _e(value: object) -> str:
    """HTML text (escaped, braces inert)."""
    return inert_html(value)


def _pct(share: float, digits: int = 1) -> str:
    return "–" if share is None or not np.isfinite(share) else f"{100 * share:.{digits}f}%"


def _people(n: float) -> str:
    return "–" if n is None or not np.isfinite(n) else f"{n:,.0f}"


# ---------------------------------------------------------------------------------------------
# the facts


@dataclass(frozen=True)
class SummaryFacts:
    """The numbers and words of the summary, from a run's results."""

    place: str
    lad_code: str
    population: float
    n_organisations: int
    lists: tuple[str, ...]
    minutes: float
    metres: float
    speed_kmh: float
    persona: str | None
    crow_flies: bool
    share: float
    pop_out: float
    totals: tuple[tuple[float, float, float, float], ...]
    deciles: tuple[tuple[int, float, float], ...]
    n_thin: int
    n_lsoas: int
    thin_rule: str
    deprived_out: float
    data: tuple[str, ...]
    generated: str
    version: str
    n_far_from_postcode: int = 0
    n_rejected: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def walk_words(self) -> str:
        """ "a 15-minute walk (1,200 m at 4.8 km/h)"."""
        speed = f"{self.speed_kmh:g} km/h" + (f", {self.persona}" if self.persona else "")
        return f"a {self.minutes:g}-minute walk ({self.metres:,.0f} m at {speed})"


def _headline_minutes(cov: Any, thin: Any) -> float:
    tp = dict(getattr(thin, "params", {}) or {}) if thin is not None else {}
    if tp.get("minutes") is not None:
        return float(tp["minutes"])
    m = getattr(cov, "headline_minutes", None)
    if m is not None:
        return float(m)
    mins = [float(x) for x in cov.totals["minutes"]]
    return 15.0 if 15.0 in mins else max(mins)


def _totals(cov: Any) -> tuple[tuple[float, float, float, float], ...]:
    t = cov.totals
    return tuple(
        (
            float(r["minutes"]),
            float(r["metres"]),
            float(r["pop_covered"]),
            float(r["share_covered"]),
        )
        for _, r in t.iterrows()
    )


def _deciles(cov: Any, minutes: float) -> tuple[tuple[int, float, float], ...]:
    d = cov.deciles
    col = f"share_covered_{minutes:g}min"
    if "imd_decile" not in d.columns or col not in d.columns:
        return ()
    rows = d.dropna(subset=["imd_decile", col]).sort_values("imd_decile")
    rows = rows.loc[rows["population"].astype(float) > 0]  # deciles with no residents left out
    return tuple(
        (int(r["imd_decile"]), float(r["population"]), float(r[col])) for _, r in rows.iterrows()
    )


def _thin_rule(thin: Any) -> str:
    tp = dict(getattr(thin, "params", {}) or {}) if thin is not None else {}
    if not tp:
        return ""
    top = 10 * int(tp.get("max_decile", 2))
    where = f"in the most deprived {top}% of areas in England"
    need = tp.get("need_domain") or {}
    if need.get("deciles") == "within the area":  # a need layer's column, ranked in the area
        where = f"among the {top}% of the area's LSOAs with the most need by {need.get('column')}"
    return (
        f"{where} ({tp.get('domain_label', 'IMD')} "
        f"decile {tp.get('max_decile')} or lower) and fewer than "
        f"{100 * float(tp.get('min_share_covered', 0.5)):g}% of residents within "
        f"{float(tp.get('minutes', 15)):g} minutes' walk"
    )


def _data_words(cov: Any) -> tuple[str, ...]:
    """The data used, in words (vintages)."""
    p = dict(getattr(cov, "params", {}) or {})
    ap = dict(p.get("area") or {})
    words = []
    if ap.get("lsoa_vintage") or p.get("lsoa_vintage"):
        words.append(f"LSOA {ap.get('lsoa_vintage') or p.get('lsoa_vintage')} boundaries")
    if ap.get("iod") or p.get("iod"):
        words.append(f"English Indices of Deprivation {ap.get('iod') or p.get('iod')}")
    if ap.get("population_source"):
        words.append("population: " + str(ap["population_source"]).split(": ", 1)[-1])
    if ap.get("postcodes"):
        pc = str(ap["postcodes"])
        words.append("postcodes: " + _POSTCODE_WORDS.get(pc, pc))
    net = _network_words(p)
    if net:
        words.append(f"walk network: {net}")
    return tuple(words)


_POSTCODE_WORDS = {
    "nspl": "ONS National Statistics Postcode Lookup",
    "codepoint_open": "OS Code-Point Open",
}


def _network_words(p: Mapping[str, Any]) -> str:
    """The walk network by its file name (a catalogue dataset is named by its file)."""
    name = str(p.get("network_name") or "")
    net = p.get("network")
    source = net.get("source") if isinstance(net, Mapping) else None
    if source and (not name or name.startswith("catalogue dataset")):
        osm = " (OpenStreetMap)" if "osm" in name.lower() else ""
        return Path(str(source)).name + osm
    return name


def _far_count(quality: pd.DataFrame | None) -> int:
    from cnmap.export import FAR_FROM_POSTCODE

    if quality is None or not len(quality) or "what" not in quality.columns:
        return 0
    return int((quality["what"] == FAR_FROM_POSTCODE).sum())


def summary_facts(
    cov: Any,
    thin: Any = None,
    *,
    org_summary: pd.DataFrame | None = None,
    rejected: pd.DataFrame | None = None,
    quality: pd.DataFrame | None = None,
    when: _dt.datetime | None = None,
) -> SummaryFacts:
    """The numbers of the summary from a coverage result and its thin classification."""
    from cnmap import __version__

    p = dict(cov.params)
    minutes = _headline_minutes(cov, thin)
    row = cov.totals.loc[cov.totals["minutes"].astype(float) == minutes].iloc[0]
    tl = getattr(thin, "lsoas", None) if thin is not None else None
    area = getattr(cov, "area", None)
    lists = (
        tuple(str(x) for x in org_summary["dataset"])
        if org_summary is not None and "dataset" in org_summary.columns
        else ()
    )
    return SummaryFacts(
        place=str(getattr(area, "lad_name", "") or p.get("lad_code", "the area")),
        lad_code=str(getattr(area, "lad_code", "") or p.get("lad_code", "")),
        population=float(row["population"]),
        n_organisations=int(p.get("n_organisations_placed") or p.get("n_organisations") or 0),
        lists=lists,
        minutes=minutes,
        metres=float(row["metres"]),
        speed_kmh=float(p.get("speed_kmh", cov.speed_kmh)),
        persona=p.get("persona"),
        crow_flies=p.get("mode") == "crow_flies",
        share=float(row["share_covered"]),
        pop_out=float(row["population"] - row["pop_covered"]),
        totals=_totals(cov),
        deciles=_deciles(cov, minutes),
        n_thin=int(tl["thin"].sum()) if tl is not None and "thin" in tl.columns else 0,
        n_lsoas=len(cov.lsoas),
        thin_rule=_thin_rule(thin),
        deprived_out=float(tl.loc[tl["deprived"], "pop_out_of_reach"].sum())
        if tl is not None and "deprived" in tl.columns
        else float("nan"),
        data=_data_words(cov),
        generated=(when or _dt.datetime.now(_dt.UTC)).strftime("%d %B %Y").lstrip("0"),
        version=__version__,
        n_far_from_postcode=_far_count(quality),
        n_rejected=0 if rejected is None else len(rejected),
    )


def thin_rows(thin: Any, *, limit: int = MAX_THIN_ROWS) -> list[dict[str, Any]]:
    """The thin LSOAs in rank order (at most ``limit``) with the columns of the page."""
    if thin is None or "thin" not in getattr(thin, "lsoas", pd.DataFrame()).columns:
        return []
    t = thin.lsoas.loc[thin.lsoas["thin"].to_numpy(bool)].sort_values("rank").head(limit)
    out = []
    for _, r in t.iterrows():
        out.append(
            {
                "rank": int(r["rank"]),
                "lsoa_code": str(r.get("lsoa_code", "")),
                "lsoa_name": str(r.get("lsoa_name", "")),
                "ward": str(r.get("ward_name", "")),
                "decile": r.get("deprivation_decile"),
                "population": float(r["population"]),
                "share": float(r["share_covered"]),
                "out": float(r.get("pop_out_of_reach", np.nan)),
                "walk": float(r.get("mean_walk_min", np.nan)),
                "reason": str(r.get("reason", "")),
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# limitations


def _walk_limitation(f: SummaryFacts) -> str:
    if f.crow_flies:
        return (
            "Walks are estimated from straight-line distance times a detour factor, not "
            "along streets (rivers, railways and dead ends are not seen); opening hours, "
            "capacity, eligibility, cost and steps are not included."
        )
    return (
        f"It measures walking distance along streets at {f.speed_kmh:g} km/h from where "
        "residents live, not whether they use an organisation: opening hours, capacity, "
        "eligibility, cost, steps, hills and how safe a route feels are not included."
    )


def _lists_limitation(f: SummaryFacts) -> str:
    lists = (
        f" from {len(f.lists)} list{'s' if len(f.lists) != 1 else ''} ({', '.join(f.lists)})"
        if f.lists
        else ""
    )
    what = "listed organisations count" if f.n_organisations != 1 else "listed organisation counts"
    text = (
        f"Only the {f.n_organisations:,} {what}{lists}: one missing "
        "from the lists, or just over the boundary, makes its area look less well served."
    )
    if f.n_rejected:
        text += (
            f" {f.n_rejected:,} listed rows could not be placed "
            "(organisations/rejected_organisations.csv)."
        )
    return text


def _placement_limitation(f: SummaryFacts) -> str | None:
    if not f.n_far_from_postcode:
        return None
    n = f.n_far_from_postcode
    return (
        f"{n:,} organisation{'s lie' if n != 1 else ' lies'} more than 1 km from "
        f"{'their' if n != 1 else 'its'} own address postcode (tables/quality.csv): where "
        "a location is wrong, so is the coverage around it."
    )


def _people_limitation(cov: Any) -> str:
    ap = dict(dict(getattr(cov, "params", {}) or {}).get("area") or {})
    source = str(ap.get("population_source") or "the LSOA population estimates")
    source = source.split(": ", 1)[-1]
    return (
        f"Residents: {source}, shared among each area's postcodes; counted where they "
        "live, not where they work, study or shop."
    )


def _deprivation_limitation(cov: Any) -> str:
    p = dict(getattr(cov, "params", {}) or {})
    iod = (p.get("area") or {}).get("iod") or p.get("iod")
    index = f"the IMD {iod}" if iod else "the IMD"
    return (
        f"Deprivation describes areas, not people ({index} ranks small areas across "
        "England): not everyone in a deprived area is deprived, and deprived people live "
        "in every decile."
    )


def _thin_limitation(f: SummaryFacts) -> str | None:
    if not f.thin_rule:
        return None
    return "The thin-area thresholds are choices; other thresholds give other lists."


def _unplaced_limitation(cov: Any) -> str | None:
    guard = dict(getattr(cov, "params", {}) or {}).get("snap_coverage")
    if not isinstance(guard, Mapping) or not guard.get("share_unplaced"):
        return None
    return (
        f"{_pct(float(guard['share_unplaced']))} of residents are farther than "
        f"{float(guard['max_snap_m']):g} m from any street of the network and count as not "
        "covered."
    )


def limitations(
    cov: Any,
    thin: Any = None,
    *,
    facts: SummaryFacts | None = None,
    org_summary: pd.DataFrame | None = None,
    rejected: pd.DataFrame | None = None,
    quality: pd.DataFrame | None = None,
) -> list[str]:
    """What the results do not say, in plain English, from the run's own settings."""
    f = facts or summary_facts(
        cov, thin, org_summary=org_summary, rejected=rejected, quality=quality
    )
    items = [
        _walk_limitation(f),
        _lists_limitation(f),
        _placement_limitation(f),
        _people_limitation(cov),
        _deprivation_limitation(cov),
        _thin_limitation(f),
        _unplaced_limitation(cov),
    ]
    return [i for i in items if i]


def methods_limitations(
    cov: Any,
    thin: Any = None,
    *,
    org_summary: pd.DataFrame | None = None,
    rejected: pd.DataFrame | None = None,
    quality: pd.DataFrame | None = None,
) -> list[str]:
    """The ``## Limitations`` section of ``methods.md`` as Markdown lines.

    ``quality`` is the exported quality table (:func:`cnmap.export.quality_table`); None:
    computed from ``cov`` (organisations far from their address postcode are counted).
    """
    if quality is None:
        from cnmap.export import quality_table

        quality = quality_table(cov)
    items = limitations(cov, thin, org_summary=org_summary, rejected=rejected, quality=quality)
    items += [
        "Ward tables count residents in the ward they live in, while the ward "
        "deprivation summaries add up whole LSOAs by the LSOA-to-ward best fit: a ward's "
        "two populations can differ (the workbook's README says by how much).",
        "Counts of people in the tables are rounded to whole people on each row, so "
        "rows may not add up exactly to a rounded total.",
    ]
    return ["", "## Limitations", "", *[f"- {i}" for i in items], ""]


def organisation_lines(org_summary: pd.DataFrame, rejected: pd.DataFrame | None) -> list[str]:
    """The ``## Organisations read`` section of ``methods.md``: one line per list with its
    file name (never its folder), rows read, placed and rejected, and the rejected rows by
    reason."""
    lines = ["", "## Organisations read", ""]
    for _, r in org_summary.iterrows():
        rate = r.get("match_rate")
        rate_words = (
            f" ({100 * float(rate):.1f}% placed)"
            if rate is not None and np.isfinite(float(rate))
            else ""
        )
        lines.append(
            f"- {r.get('dataset', '')} ({Path(str(r.get('file', ''))).name}): "
            f"{int(r.get('rows', 0)):,} rows read, {int(r.get('matched', 0)):,} "
            f"placed, {int(r.get('rejected', 0)):,} rejected{rate_words}."
        )
    if rejected is not None and len(rejected) and {"dataset", "reason"} <= set(rejected.columns):
        counts = rejected.groupby(["dataset", "reason"]).size()
        lines += [
            "",
            "Rejected rows by reason (each row with its reason in "
            "organisations/rejected_organisations.csv):",
            "",
        ]
        lines += [
            f"- {ds}: {reason.replace('_', ' ')}: {n:,}" for (ds, reason), n in counts.items()
        ]
    return [*lines, ""]


_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\\\s|`'\"()<>]+\\)*([^\\\s|`'\"()<>]+)")
_POSIX_PATH = re.compile(
    r"(?<![\w.:/~-])(?:~|\.{1,2})?/(?:[^/\s|`'\"()<>]+/)+"
    r"([^/\s|`'\"()<>]+)"
)
_FILE_URL = re.compile(r"file://[^\s|`'\"()<>]*/([^/\s|`'\"()<>]+)")


def without_machine_paths(text: str) -> str:
    """``text`` with every absolute or home-relative file path (``/home/x/data/a.csv``,
    ``~/a/b.csv``, ``C:\\Users\\x\\a.csv``, ``file:///...``) replaced by its file name. Web
    addresses (``https://...``) are kept."""
    text = _FILE_URL.sub(r"\1", text)
    text = _WINDOWS_PATH.sub(r"\1", text)
    return _POSIX_PATH.sub(r"\1", text)


def attributions(cov: Any, *, street_network: bool | None = None) -> list[str]:
    """The attribution sentences of the data used, each once, and the OpenStreetMap licence
    when a street network was used."""
    seen: dict[str, None] = {}
    src = getattr(cov, "sources", None)
    if src is not None and "attribution" in getattr(src, "columns", ()):
        for text in src["attribution"].dropna().astype(str):
            for sentence in re.split(r"(?<=\.)\s+", text.strip()):
                if sentence:
                    seen.setdefault(sentence, None)
    p = dict(getattr(cov, "params", {}) or {})
    osm = (
        street_network
        if street_network is not None
        else (p.get("mode") != "crow_flies" or bool(p.get("detour_calibration")))
    )
    if osm:
        seen.setdefault(
            "Street network © OpenStreetMap contributors, available under the Open "
            "Database Licence (ODbL 1.0).",
            None,
        )
    seen.setdefault("Organisation lists: each list's own licence and provenance apply.", None)
    return list(seen)


# ---------------------------------------------------------------------------------------------
# the equity chart


def _figure_data_uri(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _chart_from_function(cov: Any, minutes: float) -> str | None:
    """The equity chart drawn by :func:`cnmap.maps.figures_equity.decile_figure` (without its
    own titles; the page has them), as an SVG data URI; None when it cannot be drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from cnmap.maps.figures_equity import decile_figure

        fig = decile_figure(cov, minutes=minutes, title=None, subtitle=None, attribution=None)
        return _figure_data_uri(fig)
    except Exception as exc:  # noqa: BLE001 - the page falls back to the PNG or its own chart
        log.info("summary: equity chart not drawn by decile_figure (%s)", exc)
        return None


def _chart_png(figures_dir: Path | None) -> str | None:
    if figures_dir is None or not Path(figures_dir).is_dir():
        return None
    for pattern in ("*equity*.png", "*decile_coverage*.png", "*deciles_coverage*.png"):
        found = sorted(Path(figures_dir).glob(pattern))
        if found:
            data = found[0].read_bytes()
            return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return None


def _svg_bars(deciles: Sequence[tuple[int, float, float]], overall: float, minutes: float) -> str:
    """A plain bar chart of the share within reach by decile (when no figure is available)."""
    w, h, left, bottom, top = 640, 300, 48, 46, 18
    bw = (w - left - 10) / max(len(deciles), 1)

    def y(s: float) -> float:  # a small local scale
        return top + (1 - s) * (h - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="Share within {minutes:g} minutes by IMD decile">'
    ]
    for k in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{left}" x2="{w - 10}" y1="{y(k):.1f}" y2="{y(k):.1f}" '
            f'stroke="#ddd"/><text x="{left - 6}" y="{y(k) + 4:.1f}" '
            f'text-anchor="end" font-size="11">{100 * k:.0f}%</text>'
        )
    for i, (dec, pop, share) in enumerate(deciles):
        x = left + i * bw + 4
        parts.append(
            f'<rect x="{x:.1f}" y="{y(share):.1f}" width="{bw - 8:.1f}" '
            f'height="{y(0) - y(share):.1f}" fill="#4575b4"/>'
            f'<text x="{x + (bw - 8) / 2:.1f}" y="{y(share) - 4:.1f}" '
            f'text-anchor="middle" font-size="11">{100 * share:.0f}%</text>'
            f'<text x="{x + (bw - 8) / 2:.1f}" y="{h - bottom + 16:.1f}" '
            f'text-anchor="middle" font-size="11">{dec}</text>'
            f'<text x="{x + (bw - 8) / 2:.1f}" y="{h - bottom + 30:.1f}" '
            f'text-anchor="middle" font-size="9" fill="#555">{pop:,.0f}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{w - 10}" y1="{y(overall):.1f}" y2="{y(overall):.1f}" '
        f'stroke="#000" stroke-dasharray="5,3"/>'
        f'<text x="{w / 2:.0f}" y="{h - 4}" text-anchor="middle" font-size="11">'
        f"National IMD decile (1 = most deprived 10%) and its residents</text></svg>"
    )
    return "".join(parts)


def equity_chart_html(
    cov: Any,
    *,
    minutes: float,
    overall: float,
    figures_dir: str | Path | None = None,
    draw: bool = True,
) -> str:
    """The equity chart for the page: the figure of :mod:`cnmap.maps.figures_equity` (as
    SVG), else an equity PNG the run wrote in ``figures_dir``, else a plain SVG bar chart of
    the result's deciles. ``draw=False`` skips the figure function."""
    alt = f"Share of residents within {minutes:g} minutes' walk, by national IMD decile"
    uri = _chart_from_function(cov, minutes) if draw else None
    uri = uri or _chart_png(Path(figures_dir) if figures_dir is not None else None)
    if uri:
        return f'<img class="chart" src="{uri}" alt="{_e(alt)}">'
    deciles = _deciles(cov, minutes)
    if not deciles:
        return '<p class="muted">No LSOA of the area has an IMD decile: no equity chart.</p>'
    return f'<div class="chart">{_svg_bars(deciles, overall, minutes)}</div>'


# ---------------------------------------------------------------------------------------------
# the page

_CSS = """
@page { size: A4; margin: 9mm 11mm; }
* { box-sizing: border-box; }
html { background: #e9e9e9; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1a1a1a;
  font-size: 8.4pt; line-height: 1.3; margin: 0; }
.page { background: #fff; max-width: 210mm; margin: 0 auto; padding: 9mm 11mm; }
h1 { font-size: 15pt; margin: 0 0 0.8mm; line-height: 1.15; }
h2 { font-size: 9.6pt; margin: 2.6mm 0 1mm; border-bottom: 1px solid #bbb;
  padding-bottom: 0.5mm; }
p { margin: 0 0 1mm; }
.sub { color: #444; margin: 0 0 1.6mm; }
.lead { font-size: 10pt; margin: 1mm 0 1.8mm; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 2.4mm; }
.tile { border: 1px solid #c9c9c9; border-top: 3px solid #0571b0; padding: 1.3mm 2mm; }
.tile.warn { border-top-color: #D55E00; }
.tile .n { font-size: 14pt; font-weight: bold; display: block; line-height: 1.1; }
.tile .t { color: #333; display: block; margin-top: 0.4mm; }
.two { display: grid; grid-template-columns: 1.38fr 1fr; gap: 4mm; align-items: start; }
.chart { width: 100%; display: block; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.6mm 1.2mm; border-bottom: 1px solid #ddd;
  vertical-align: top; }
th { background: #f0f0f0; font-weight: bold; }
td.num, th.num { text-align: right; }
td.num { white-space: nowrap; }
td.code { color: #555; white-space: nowrap; }
td.name { white-space: nowrap; }
table.thin { font-size: 7.8pt; }
table.thin td.name, table.thin td.code { white-space: nowrap; }
ul.data { margin: 0; padding-left: 4mm; color: #444; font-size: 7.4pt; }
ul.data li { margin: 0 0 0.4mm; }
.scroll { overflow-x: auto; }
.muted, .note { color: #555; }
ul.lim { margin: 0; padding-left: 4.5mm; columns: 2; column-gap: 6mm; font-size: 7.9pt; }
ul.lim li { margin: 0 0 0.8mm; break-inside: avoid; }
footer { margin-top: 2.4mm; border-top: 1px solid #bbb; padding-top: 1.2mm; color: #444;
  font-size: 6.8pt; line-height: 1.22; }
footer p { margin: 0 0 0.6mm; }
@media screen and (max-width: 700px) {
  body { font-size: 10.5pt; }
  .page { padding: 5mm 4mm; }
  .tiles { grid-template-columns: 1fr 1fr; }
  .two { grid-template-columns: 1fr; }
  ul.lim { columns: 1; }
  ul.lim, ul.data, table.thin, .note { font-size: 9.5pt; }
  table.thin .code { display: none; }
  footer { font-size: 8.5pt; }
  h1 { font-size: 15pt; }
}
@media print { html { background: #fff; } .page { padding: 0; max-width: none; }
  body { font-size: 8.1pt; } }
"""


def _tile(number: str, text: str, warn: bool = False) -> str:
    return (
        f'<div class="tile{" warn" if warn else ""}"><span class="n">{number}</span>'
        f'<span class="t">{text}</span></div>'
    )


def _tiles(f: SummaryFacts) -> str:
    tiles = [
        _tile(_pct(f.share), f"of residents within a {f.minutes:g}-minute walk of an organisation"),
        _tile(
            _people(f.pop_out),
            f"residents farther than {f.minutes:g} minutes' walk from every organisation",
            warn=True,
        ),
    ]
    if len(f.deciles) >= 2:
        lo, hi = f.deciles[0], f.deciles[-1]
        tiles.append(
            _tile(
                f"{_pct(lo[2], 0)} / {_pct(hi[2], 0)}",
                f"within {f.minutes:g} minutes: most deprived areas (IMD decile "
                f"{lo[0]}) / least deprived (decile {hi[0]})",
            )
        )
    if f.thin_rule:
        tiles.append(
            _tile(
                f"{f.n_thin:,}",
                f"thin area{'s' if f.n_thin != 1 else ''} of "
                f"{f.n_lsoas:,}: deprived and poorly served",
                warn=True,
            )
        )
    return f'<div class="tiles">{"".join(tiles)}</div>'


def _totals_table(f: SummaryFacts) -> str:
    rows = "".join(
        f'<tr><td class="name">{m:g} min ({d:,.0f} m)</td>'
        f'<td class="num">{_people(c)}</td><td class="num">{_pct(s)}</td></tr>'
        for m, d, c, s in f.totals
    )
    return (
        '<table><thead><tr><th>Walk</th><th class="num">Residents</th>'
        f'<th class="num">Share (%)</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _equity_words(f: SummaryFacts) -> str:
    if len(f.deciles) < 2:
        return ""
    first, last = f.deciles[0], f.deciles[-1]
    worst = min(f.deciles, key=lambda d: d[2])
    low = (
        ""
        if worst[0] in (first[0], last[0])
        else f" The lowest share is in decile {worst[0]} ({_pct(worst[2])})."
    )
    return (
        f'<p class="note">Within {f.minutes:g} minutes: {_pct(first[2])} of residents in '
        f"IMD decile {first[0]} (most deprived), {_pct(last[2])} in decile {last[0]}, "
        f"{_pct(f.share)} of all residents.{low}</p>"
    )


def _thin_rule_words(f: SummaryFacts) -> str:
    out = (
        f" Together, {_people(f.deprived_out)} residents of deprived areas live farther "
        f"than {f.minutes:g} minutes from every organisation."
        if np.isfinite(f.deprived_out)
        else ""
    )
    return f'<p class="note">A thin area is an LSOA {_e(f.thin_rule)}.{out}</p>'


def _thin_table(f: SummaryFacts, rows: Sequence[Mapping[str, Any]]) -> str:
    if not f.thin_rule:
        return '<p class="muted">No thin-area classification in this run.</p>'
    rule = _thin_rule_words(f)
    if not rows:
        return rule + f"<p><strong>No area meets the rule</strong> in {_e(f.place)}.</p>"
    body = "".join(
        f'<tr><td class="num">{r["rank"]}</td><td class="name">{_e(r["lsoa_name"])}</td>'
        f'<td class="code">{_e(r["lsoa_code"])}</td><td>{_e(r["ward"])}</td>'
        f'<td class="num">{_e(r["decile"])}</td><td class="num">{_people(r["population"])}</td>'
        f'<td class="num">{_pct(r["share"], 0)}</td><td class="num">{_people(r["out"])}</td>'
        f'<td class="num">{r["walk"]:.0f} min</td></tr>'
        for r in rows
    )
    more = f.n_thin - len(rows)
    tail = (
        f'<p class="note">… and {more:,} more thin areas in tables/thin_lsoas.csv.</p>'
        if more > 0
        else ""
    )
    head = (
        '<tr><th class="num">Rank</th><th>Area</th><th class="code">LSOA code</th><th>Ward</th>'
        '<th class="num">IMD decile</th><th class="num">Residents</th>'
        f'<th class="num">Within {f.minutes:g} min</th>'
        '<th class="num">Farther</th><th class="num">Average walk to nearest</th></tr>'
    )
    return (
        rule + f'<div class="scroll"><table class="thin"><thead>{head}</thead><tbody>{body}</tbody>'
        f"</table></div>{tail}"
    )


def _data_block(f: SummaryFacts) -> str:
    if not f.data:
        return ""
    items = "".join(f"<li>{_e(d)}</li>" for d in f.data)
    return (
        f'<h2>Data and files</h2><ul class="data">{items}<li>beside this page: every table '
        "in tables/ (CSV, Excel, GeoPackage), the method in methods.md, the interactive "
        "map, and the run's settings in run.json</li></ul>"
    )


def _footer(f: SummaryFacts, attribution: Sequence[str]) -> str:
    return (
        "<footer>"
        f"<p><strong>Licences and attribution:</strong> "
        f"{' '.join(_e(a) for a in attribution)}</p>"
        "</footer>"
    )


def summary_html(
    facts: SummaryFacts,
    *,
    chart: str,
    thin: Sequence[Mapping[str, Any]],
    limitations: Sequence[str],
    attribution: Sequence[str],
) -> str:
    """The one-page summary as a complete HTML document (pure: no I/O).

    Parameters
    ----------
    facts
        :func:`summary_facts`.
    chart
        The equity chart's HTML (:func:`equity_chart_html`; cnmap's own markup).
    thin
        :func:`thin_rows`.
    limitations, attribution
        Sentences (:func:`limitations`, :func:`attributions`); escaped here.
    """
    f = facts
    lists = f" from {len(f.lists)} list{'s' if len(f.lists) != 1 else ''}" if f.lists else ""
    orgs = (
        f"at least one of {f.n_organisations:,} community organisations"
        if f.n_organisations != 1
        else "the one community organisation"
    )
    lead = (
        f"<strong>{_pct(f.share)}</strong> of {_e(f.place)}'s {_people(f.population)} "
        f"residents live within {_e(f.walk_words)} of {orgs}{_e(lists)}."
    )
    method = "straight-line estimate" if f.crow_flies else "walks along the street network"
    lims = "".join(f"<li>{_e(x)}</li>" for x in limitations)
    return (
        '<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(f.place)}: walking access to community organisations - summary</title>"
        f'<style>{_CSS}</style></head><body><main class="page">'
        f"<h1>{_e(f.place)}: walking access to community organisations</h1>"
        f'<p class="sub">Summary for committee · {_e(f.place)} ({_e(f.lad_code)}) · '
        f"{method} · cnmap {_e(f.version)}, {_e(f.generated)}</p>"
        f'<p class="lead">{lead}</p>{_tiles(f)}'
        '<div class="two"><section><h2>Who is within reach, by deprivation</h2>'
        f"{chart}</section><section><h2>Coverage at each walking time</h2>"
        f"{_totals_table(f)}{_equity_words(f)}{_data_block(f)}</section></div>"
        f"<section><h2>Thin areas: where deprived residents are poorly served</h2>"
        f"{_thin_table(f, thin)}</section>"
        f'<section><h2>Limitations</h2><ul class="lim">{lims}</ul></section>'
        f"{_footer(f, attribution)}</main></body></html>\n"
    )


# ---------------------------------------------------------------------------------------------
# writing


@dataclass(frozen=True)
class SummaryFiles:
    """What :func:`write_summary` wrote: the HTML, the PDF (None when skipped) and a note
    saying why the PDF was skipped ("" when written)."""

    html: Path
    pdf: Path | None
    note: str = ""

    def paths(self) -> list[Path]:
        """The files written: the HTML, then the PDF when there is one."""
        return [self.html] + ([self.pdf] if self.pdf is not None else [])


def _chromium(chromium: str | Path | None) -> Path | None:
    if chromium is not None:
        p = Path(chromium)
        return p if p.is_file() else None
    if CHROMIUM.is_file():
        return CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


@dataclass
class PdfPrint:
    """A headless-Chromium print started by :func:`start_pdf`; :meth:`wait` gives its result.

    Chromium runs as its own process, so the caller can go on with other work (on another
    core) while the page prints.
    """

    out: Path
    process: subprocess.Popen[bytes] | None = None
    profile: tempfile.TemporaryDirectory[str] | None = None
    timeout: float = 120.0
    note: str = ""

    def cancel(self) -> None:
        """Stop the print if it is still running (its profile folder is removed)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.profile is not None:
            self.profile.cleanup()
            self.profile = None

    def wait(self) -> tuple[Path | None, str]:
        """Wait for the print: (the PDF, "") or (None, why it was not written)."""
        if self.process is None:
            return None, self.note
        try:
            code = self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None, "PDF not written: Chromium failed (TimeoutExpired)"
        finally:
            if self.profile is not None:
                self.profile.cleanup()
        out = self.out
        if code != 0 or not out.is_file() or out.stat().st_size == 0:
            return None, f"PDF not written: Chromium exited with code {code}"
        return out, ""


def start_pdf(
    html: str | Path, pdf: str | Path, *, chromium: str | Path | None = None, timeout: float = 120.0
) -> PdfPrint:
    """Start printing an HTML file to PDF with headless Chromium (a fresh profile, no network
    services, no header or footer) and return at once; never raises for a missing or failing
    browser (:meth:`PdfPrint.wait` says what happened)."""
    out = Path(pdf).resolve()
    exe = _chromium(chromium)
    if exe is None:
        note = "PDF not written: headless Chromium was not found (apt-get install chromium)"
        return PdfPrint(out, note=note)
    profile = tempfile.TemporaryDirectory(prefix="cnmap-chromium-")
    cmd = [
        str(exe),
        *_CHROMIUM_FLAGS,
        f"--user-data-dir={profile.name}",
        f"--print-to-pdf={out}",
        Path(html).resolve().as_uri(),
    ]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        profile.cleanup()
        return PdfPrint(out, note=f"PDF not written: Chromium failed ({type(exc).__name__})")
    return PdfPrint(out, proc, profile, timeout)


def html_to_pdf(
    html: str | Path, pdf: str | Path, *, chromium: str | Path | None = None, timeout: float = 120.0
) -> tuple[Path | None, str]:
    """Print an HTML file to PDF with headless Chromium and wait for it. Returns (the PDF, "")
    or (None, why it was skipped); never raises for a missing or failing browser."""
    return start_pdf(html, pdf, chromium=chromium, timeout=timeout).wait()


def start_summary(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    out_dir: str | Path,
    cov: Any,
    thin: Any = None,
    *,
    org_summary: pd.DataFrame | None = None,
    rejected: pd.DataFrame | None = None,
    quality: pd.DataFrame | None = None,
    figures_dir: str | Path | None = None,
    pdf: bool = True,
    stem: str = "summary",
    chromium: str | Path | None = None,
    draw_chart: bool = True,
) -> SummaryJob:
    """Write ``<stem>.html`` into ``out_dir`` and start printing ``<stem>.pdf`` (when Chromium is
    available) in the background; :meth:`SummaryJob.finish` waits for the PDF.

    :func:`write_summary` does both at once; this lets a run write other outputs while
    Chromium prints.

    Parameters
    ----------
    out_dir
        The run's output folder.
    cov, thin
        The coverage result and its thin-infrastructure classification.
    org_summary, rejected
        The organisation lists read (one row per list) and the rows rejected.
    quality
        The quality table as exported (:func:`cnmap.export.quality_table`); None: computed
        from ``cov`` (organisations far from their address postcode are counted).
    figures_dir
        Where the run's figures are (an equity PNG there is used if the figure function
        cannot draw the chart).
    pdf
        Also print the page to PDF.
    """
    if quality is None:
        from cnmap.export import quality_table

        quality = quality_table(cov)
    facts = summary_facts(cov, thin, org_summary=org_summary, rejected=rejected, quality=quality)
    chart = equity_chart_html(
        cov, minutes=facts.minutes, overall=facts.share, figures_dir=figures_dir, draw=draw_chart
    )
    page = summary_html(
        facts,
        chart=chart,
        thin=thin_rows(thin),
        limitations=limitations(cov, thin, facts=facts),
        attribution=attributions(cov),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html = out / f"{stem}.html"
    html.write_text(page, encoding="utf-8")
    if not pdf:
        return SummaryJob(html, None)
    return SummaryJob(html, start_pdf(html, out / f"{stem}.pdf", chromium=chromium))


@dataclass
class SummaryJob:
    """The summary page written by :func:`start_summary`, its PDF maybe still printing."""

    html: Path
    printing: PdfPrint | None

    def cancel(self) -> None:
        """Stop the PDF print, if any (the run failed before it was needed)."""
        if self.printing is not None:
            self.printing.cancel()

    def finish(self) -> SummaryFiles:
        """Wait for the PDF (if one was asked for) and say what was written."""
        if self.printing is None:
            return SummaryFiles(self.html, None, "PDF not asked for")
        printed, note = self.printing.wait()
        if note:
            log.warning("summary: %s", note)
        return SummaryFiles(self.html, printed, note)


def write_summary(out_dir: str | Path, cov: Any, thin: Any = None, **options: Any) -> SummaryFiles:
    """Write ``<stem>.html`` (and ``<stem>.pdf`` when Chromium is available) into ``out_dir``.

    The keyword options are those of :func:`start_summary` (``org_summary``, ``rejected``,
    ``quality``, ``figures_dir``, ``pdf``, ``stem``, ``chromium``, ``draw_chart``); this waits
    for the PDF.
    """
    return start_summary(out_dir, cov, thin, **options).finish()
