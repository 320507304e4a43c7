"""The report's figures, as matplotlib ``Figure`` objects shared by the PDF and the GUI.

Each function builds one chart from report records and returns a ``Figure`` created
directly (no pyplot, no GUI backend): the GUI puts it on a ``FigureCanvasQTAgg``, the PDF
renders it with :func:`figure_png`. The PDF embeds PNG at 300 dpi rather than vector
graphics: ReportLab cannot place a matplotlib PDF/SVG without an extra package (svglib
or pdfrw), and 300 dpi is print resolution at the size the figures are printed. PNG
output is deterministic (no timestamps, no software tag), so reports stay byte-identical.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from core.reports.data import CalibrationRow, ProbeSeries

PRINT_DPI = 300
SUSPECT_COLOUR = "#9b2226"
REFERENCE_COLOUR = "#5c6b7a"
ACCENT = "#1d3557"
_STYLE: Any = {  # matplotlib types the keys as a Literal of every rcParam
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#444444",
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "svg.hashsalt": "distill-audit",
    "path.simplify": True,
}


def is_binary(series: Sequence[ProbeSeries]) -> bool:
    """True when every per-probe value is 0 or 1 (hit / no hit, as in the identity probe)."""
    values = [v for s in series for v in s.values]
    return bool(values) and all(v in (0, 1) for v in values)


def is_count(series: Sequence[ProbeSeries], most: int = 8) -> bool:
    """True when the per-probe values are small whole counts (0, 1, 2, ...): bars, not boxes."""
    values = [v for s in series for v in s.values]
    return (
        bool(values)
        and all(float(v).is_integer() and 0 <= v <= most for v in values)
        and not is_binary(series)
    )


def _count_figure(shown: Sequence[ProbeSeries], *, title: str, width_in: float) -> Figure:
    """Grouped bars: for each count, the share of each model's probes with that count."""
    top = int(max(v for s in shown for v in s.values))
    counts = np.arange(top + 1)
    with rc_context(_STYLE):
        fig = Figure(figsize=(width_in, 2.6), layout="constrained")
        ax = fig.add_subplot()
        width = 0.8 / len(shown)
        for j, s in enumerate(shown):
            shares = [sum(1 for v in s.values if v == k) / len(s.values) for k in counts]
            ax.bar(
                counts - 0.4 + width * (j + 0.5),
                shares,
                width=width * 0.92,
                color=_colour(s),
                alpha=0.9 if s.role == "suspect" else 0.35 + 0.5 * j / len(shown),
                label=_label(s).replace("\n", ", "),
            )
        ax.set_xticks(counts)
        ax.set_xlabel("Count per probe")
        ax.set_ylabel("Share of probes")
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(fontsize=8, frameon=False)
        if title:
            ax.set_title(title, loc="left")
    return fig


def _colour(s: ProbeSeries) -> str:
    return SUSPECT_COLOUR if s.role == "suspect" else REFERENCE_COLOUR


def _label(s: ProbeSeries) -> str:
    name = f"{s.name} (suspect)" if s.role == "suspect" and s.name != "suspect" else s.name
    return f"{name}\nN = {len(s.values)}"


def probe_distribution_figure(
    series: Sequence[ProbeSeries],
    *,
    title: str = "",
    xlabel: str = "Per-probe score",
    width_in: float = 6.4,
) -> Figure:
    """Per-probe values of the suspect and each reference model, one row per model.

    Scores: a box plot (quartiles, median) with every probe as a point (jittered with a
    fixed seed). Hit/no-hit values (0/1): the share of probes with a hit, with k/N.
    The suspect comes first and is highlighted.
    """
    shown = [s for s in series if s.values]
    if shown and is_binary(shown):
        return _hit_rate_figure(shown, title=title, width_in=width_in)
    if shown and is_count(shown):
        return _count_figure(shown, title=title, width_in=width_in)
    with rc_context(_STYLE):
        height = 0.95 + 0.36 * max(len(shown), 1)
        fig = Figure(figsize=(width_in, min(height, 7.5)), layout="constrained")
        ax = fig.add_subplot()
        if not shown:
            ax.text(
                0.5,
                0.5,
                "No per-probe scores recorded",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
            ax.set_axis_off()
            return fig
        rng = np.random.default_rng(0)
        positions = np.arange(len(shown))[::-1]
        colours = [SUSPECT_COLOUR if s.role == "suspect" else REFERENCE_COLOUR for s in shown]
        box = ax.boxplot(
            [s.values for s in shown],
            positions=positions,
            orientation="horizontal",
            widths=0.55,
            showfliers=False,
            patch_artist=True,
            medianprops={"color": "black", "linewidth": 1.1},
            whiskerprops={"color": "#555555"},
            capprops={"color": "#555555"},
        )
        for patch, colour in zip(box["boxes"], colours, strict=True):
            patch.set_facecolor(colour)
            patch.set_alpha(0.22)
            patch.set_edgecolor(colour)
        for pos, s, colour in zip(positions, shown, colours, strict=True):
            jitter = rng.uniform(-0.17, 0.17, len(s.values))
            ax.scatter(
                s.values, pos + jitter, s=7, color=colour, alpha=0.75, linewidths=0, zorder=3
            )
        ax.set_yticks(positions, [_label(s) for s in shown])
        for tick, colour in zip(ax.get_yticklabels(), colours, strict=True):
            tick.set_color(colour if colour == SUSPECT_COLOUR else "#222222")
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        if title:
            ax.set_title(title, loc="left")
    return fig


def _hit_rate_figure(shown: Sequence[ProbeSeries], *, title: str, width_in: float) -> Figure:
    with rc_context(_STYLE):
        fig = Figure(figsize=(width_in, 0.95 + 0.36 * len(shown)), layout="constrained")
        ax = fig.add_subplot()
        positions = np.arange(len(shown))[::-1]
        rates = [sum(s.values) / len(s.values) for s in shown]
        ax.barh(positions, rates, height=0.55, color=[_colour(s) for s in shown], alpha=0.8)
        for pos, s, rate in zip(positions, shown, rates, strict=True):
            ax.text(
                rate + 0.01, pos, f"{int(sum(s.values))}/{len(s.values)}", va="center", fontsize=8
            )
        ax.set_yticks(positions, [_label(s) for s in shown])
        ax.set_xlim(0, 1.08)
        ax.set_xlabel("Share of probes with a hit")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        if title:
            ax.set_title(title, loc="left")
    return fig


def calibration_curve_figure(
    rows: Sequence[CalibrationRow],
    *,
    title: str = "",
    labels: Mapping[str, str] | None = None,
    width_in: float = 6.4,
) -> Figure:
    """Detection rate against distillation samples (95% CI bars) with false-positive bands.

    ``labels`` maps a check key to the name shown in the legend (default: the key).
    """
    labels = labels or {}
    with rc_context(_STYLE):
        fig = Figure(figsize=(width_in, 3.2), layout="constrained")
        ax = fig.add_subplot()
        checks = sorted({r.check for r in rows})
        palette = [ACCENT, SUSPECT_COLOUR, "#2a9d8f", "#e9c46a", "#6d597a", "#8d99ae"]
        all_samples = [r.samples for r in rows if r.quantity == "detection" and r.samples]
        for i, check in enumerate(checks):
            colour = palette[i % len(palette)]
            det = sorted(
                (r for r in rows if r.check == check and r.quantity == "detection" and r.samples),
                key=lambda r: r.samples or 0,
            )
            if det:
                x = np.array([r.samples for r in det], dtype=float)
                y = np.array([r.rate for r in det])
                lo = np.array([r.ci_low if r.ci_low is not None else r.rate for r in det])
                hi = np.array([r.ci_high if r.ci_high is not None else r.rate for r in det])
                ax.errorbar(
                    x,
                    y,
                    yerr=[y - lo, hi - y],
                    color=colour,
                    marker="o",
                    ms=4,
                    capsize=3,
                    linewidth=1.3,
                    label=f"{labels.get(check, check)}: detection rate",
                )
            for r in rows:
                if r.check == check and r.quantity == "false_positive":
                    ax.axhline(
                        r.rate,
                        color=colour,
                        linestyle="--",
                        linewidth=1.0,
                        label=f"{labels.get(check, check)}: false-positive rate",
                    )
                    if r.ci_low is not None and r.ci_high is not None:
                        ax.axhspan(r.ci_low, r.ci_high, color=colour, alpha=0.08, linewidth=0)
        if all_samples and max(all_samples) / max(min(all_samples), 1) >= 20:
            ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("Distillation samples seen by the student")
        ax.set_ylabel("Rate (95% CI)")
        ax.grid(color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        if ax.get_legend_handles_labels()[0]:
            fig.legend(loc="outside lower center", ncols=2)
        if title:
            ax.set_title(title, loc="left")
    return fig


def harvest_rank_figure(
    histogram: Sequence[int],
    expected: Sequence[float] | None = None,
    *,
    title: str = "",
    width_in: float = 6.4,
) -> Figure:
    """The harvest test's rank histogram: prompts by where the logged answer ranked among its
    regenerations (deciles of R/K; 0 = the suspect liked the logged answer best), with the
    counts expected if the suspect had never seen the logged answers (flat under Hd)."""
    counts = np.asarray(list(histogram), dtype=float)
    n = int(counts.sum())
    with rc_context(_STYLE):
        fig = Figure(figsize=(width_in, 2.8), layout="constrained")
        ax = fig.add_subplot()
        if counts.size == 0 or n == 0:
            ax.text(0.5, 0.5, "No ranks recorded", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            return fig
        x = np.arange(counts.size)
        ax.bar(x, counts, width=0.8, color=SUSPECT_COLOUR, alpha=0.8, label=f"prompts (N = {n})")
        if expected is not None and len(expected) == counts.size:
            ax.step(
                np.append(x - 0.5, x[-1] + 0.5),
                np.append(expected, expected[-1]),
                where="post",
                color=ACCENT,
                linestyle="--",
                linewidth=1.2,
                label="expected if the suspect never saw the logged answers",
            )
        edges = [f"{10 * i}-{10 * (i + 1)}%" for i in range(counts.size)]
        ax.set_xticks(x, edges)
        ax.set_xlabel(
            "Share of regenerations the suspect scored at least as high as the logged answer"
        )
        ax.set_ylabel("Logged prompts")
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(loc="upper right")
        if title:
            ax.set_title(title, loc="left")
    return fig


def tippett_figure(
    lr_hp: Sequence[float],
    lr_hd: Sequence[float],
    observed_lr: float | None = None,
    *,
    title: str = "",
    width_in: float = 6.4,
) -> Figure:
    """Tippett plot of a calibration's likelihood ratios (:mod:`core.checks.likelihood_ratio`).

    For every threshold t on log10 LR, the share of distilled students (Hp, solid) and of
    null twins (Hd, dashed) whose leave-one-out LR is at least t; the case's measured LR,
    when given, is a vertical line. Hp curves far to the right and Hd curves far to the
    left mean the ratios discriminate; an Hd curve reaching far right means misleading
    support for Hp.
    """
    hp = np.log10(np.clip(np.asarray(list(lr_hp), dtype=float), 1e-300, None))
    hd = np.log10(np.clip(np.asarray(list(lr_hd), dtype=float), 1e-300, None))
    with rc_context(_STYLE):
        fig = Figure(figsize=(width_in, 3.0), layout="constrained")
        ax = fig.add_subplot()
        if hp.size == 0 or hd.size == 0:
            ax.text(
                0.5, 0.5, "No calibration ratios", ha="center", va="center", transform=ax.transAxes
            )
            ax.set_axis_off()
            return fig
        both = np.concatenate([hp, hd] + ([np.log10([observed_lr])] if observed_lr else []))
        lo, hi = float(both.min()) - 0.5, float(both.max()) + 0.5
        grid = np.linspace(lo, hi, 400)
        for values, colour, style, name in (
            (hp, SUSPECT_COLOUR, "-", f"distilled students (Hp), N = {hp.size}"),
            (hd, ACCENT, "--", f"null twins (Hd), N = {hd.size}"),
        ):
            share = (values[None, :] >= grid[:, None]).mean(axis=1)
            ax.plot(grid, share, color=colour, linestyle=style, linewidth=1.4, label=name)
        if observed_lr is not None and observed_lr > 0:
            ax.axvline(
                float(np.log10(observed_lr)),
                color="#444444",
                linestyle=":",
                linewidth=1.2,
                label=f"this case: LR = {observed_lr:.3g}",
            )
        ax.axvline(0.0, color="#bbbbbb", linewidth=0.8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("log10 likelihood ratio (leave-one-out on the calibration)")
        ax.set_ylabel("Share with LR at least this")
        ax.grid(color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(loc="lower left")
        if title:
            ax.set_title(title, loc="left")
    return fig


def campaign_timeline_figure(
    daily: Mapping[str, Mapping[str, int]], *, title: str = "", width_in: float = 6.4
) -> Figure:
    """Requests per UTC day of each campaign (``daily``: campaign id → ISO day → requests),
    one line per campaign, days without requests drawn as zero."""
    from datetime import date, timedelta

    days = sorted({d for per in daily.values() for d in per})
    with rc_context(_STYLE):
        fig = Figure(figsize=(width_in, 2.6), layout="constrained")
        ax = fig.add_subplot()
        if not days:
            ax.text(
                0.5, 0.5, "No campaign recorded", ha="center", va="center", transform=ax.transAxes
            )
            ax.set_axis_off()
            return fig
        first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
        span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        x = np.arange(len(span))
        palette = (SUSPECT_COLOUR, ACCENT, REFERENCE_COLOUR, "#e9c46a", "#2a9d8f")
        for i, (cid, per) in enumerate(sorted(daily.items())):
            y = [per.get(d.isoformat(), 0) for d in span]
            ax.plot(
                x,
                y,
                marker="o",
                markersize=2.5,
                linewidth=1.1,
                color=palette[i % len(palette)],
                label=f"{cid} ({sum(y):,} requests)",
            )
        step = max(1, len(span) // 8)
        ax.set_xticks(x[::step], [d.isoformat() for d in span[::step]], rotation=30, ha="right")
        ax.set_xlabel("Day (UTC)")
        ax.set_ylabel("Requests per day")
        ax.set_yscale("symlog", linthresh=10)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(loc="upper right")
        if title:
            ax.set_title(title, loc="left")
    return fig


def figure_png(fig: Figure, dpi: int = PRINT_DPI) -> bytes:
    """Opaque RGB PNG bytes of a figure, without metadata that changes from run to run.

    Matplotlib writes RGBA; the alpha channel is dropped (the figure is opaque white) so
    the PDF embeds a plain image without a soft mask, which some viewers render greyish.
    """
    from PIL import Image as PILImage

    buf = io.BytesIO()
    with rc_context(_STYLE):
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    buf.seek(0)
    rgb = PILImage.open(buf).convert("RGB")
    out = io.BytesIO()
    rgb.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()
