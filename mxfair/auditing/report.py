"""AuditReport: what :func:`mxfair.audit` found, as one self-contained HTML page, JSON or
Markdown.

The page needs no server and no other file: figures are embedded as base64 PNG (or SVG), the
style is inline, nothing is fetched.
"""
import base64
import dataclasses
import html
import json
import math
import os
from typing import Any, Dict, List, Optional, Union

import numpy as np

from ..plot import plot_group_rates
from .figures import (
    figure_bytes,
    plot_attribution_maps,
    plot_gap_attribution,
    plot_null_distribution,
    plot_partial_dependence,
    plot_proxies,
)

__all__ = ["AuditReport", "SECTIONS"]

#: The sections of the page, in order: (anchor id, heading).
SECTIONS = (
    ("findings", "Findings"),
    ("groups", "Rates by group"),
    ("significance", "Gaps and their significance"),
    ("data-bias", "Bias in the labels"),
    ("attribution", "What drives the gap"),
    ("proxies", "Proxies of the sensitive attribute"),
    ("partial-dependence", "Partial dependence by group"),
    ("method", "Method, settings and notes"),
)
_GROUP_COLUMNS = ("count", "selection_rate", "true_positive_rate", "false_positive_rate",
                  "accuracy", "selection_rate_p", "true_positive_rate_p",
                  "false_positive_rate_p", "accuracy_p")
_BIAS_KEYS = ("CI", "DPL", "KL", "JS", "TVD", "KS")
_STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1060px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ddd;padding:.25em .55em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.meta{color:#666;font-size:.9em}.note{color:#555;font-size:.88em}
img{max-width:100%;height:auto;margin:.4em 0}ul{margin-top:.3em}
.yes{color:#b03a2e;font-weight:600}.no{color:#1e8449}
"""


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "n/a"
        if math.isinf(v):
            return "inf" if v > 0 else "−inf"
        if v != 0 and abs(v) < 10 ** -digits:
            return f"{v:.1e}"
        return f"{v:.{digits}f}"
    return str(value)


def _p(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.2g}"


def _jsonable(obj: Any) -> Any:
    """NumPy and pandas values as plain JSON values; NaN and infinities as null."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


@dataclasses.dataclass
class AuditReport:
    """The result of :func:`mxfair.audit`.

    Attributes
    ----------
    title : str
    meta : dict
        Rows, groups and their sizes, the settings, the context.
    report : FairnessReport
        Per-group rates, gaps and bootstrap intervals (``report.summary()``).
    summary : dict
        Headline figures with ``_lo``/``_hi`` interval bounds.
    significance : pandas.DataFrame
        One row per gap: observed value, permutation p-value, Holm-adjusted p-value, decision,
        test and null (``significance.attrs["correction"]`` states the correction).
    groups : pandas.DataFrame
        Rates per group with per-group p-values (``<rate>_p``, group against overall, Holm
        across groups).
    data_bias : dict
        ``{"audited data": {group: metrics}, "training data": {...}}``: Clarify's pre-training
        metrics of each group (facet) against the rest, on labels.
    attribution : GapAttribution or None
    permutation_attribution : pandas.DataFrame or None
        The model-agnostic explanation of a tabular net without (reliable) gradients.
    occlusion : OcclusionMaps or None
        The model-agnostic explanation of an image net without (reliable) gradients.
    proxies : pandas.DataFrame or None
    partial_dependence : list of PartialDependence
    notes : list of str
        Warnings raised while auditing (undefined rates, invalid rows, completeness ...).
    timings : dict
        Seconds per stage.
    figures : dict of str to matplotlib Figure
        Built by :meth:`build_figures` (``audit(figures=True)``).
    """

    title: str
    meta: Dict[str, Any]
    report: Any
    summary: Dict[str, float]
    significance: Any
    groups: Any
    data_bias: Dict[str, Dict[str, Dict[str, float]]]
    attribution: Any = None
    permutation_attribution: Any = None
    occlusion: Any = None
    proxies: Any = None
    partial_dependence: List[Any] = dataclasses.field(default_factory=list)
    notes: List[str] = dataclasses.field(default_factory=list)
    timings: Dict[str, float] = dataclasses.field(default_factory=dict)
    main_test: Any = None
    figures: Dict[str, Any] = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------------------ findings
    def findings(self) -> List[str]:
        """The headline findings, one sentence each (plain text)."""
        out = []
        sig = self.significance.set_index("gap")
        alpha = self.meta.get("alpha", 0.05)
        for gap, row in sig.iterrows():
            lo, hi = self.summary.get(f"{gap}_lo"), self.summary.get(f"{gap}_hi")
            interval = (f" [{_fmt(lo, 3)}, {_fmt(hi, 3)}]" if lo is not None and hi is not None
                        else "")
            verdict = ("significant" if row["reject"] else "not significant")
            out.append(
                f"{gap.replace('_', ' ')}: {_fmt(row['observed'], 3)}{interval}, p = "
                f"{_p(row['p_value'])} (Holm {_p(row['p_holm'])}): {verdict} at "
                f"{alpha:g}"
            )
        if self.attribution is not None:
            top = ", ".join(f"{name} ({value:+.3f})"
                            for name, value in self.attribution.ranking()[:3])
            out.append(f"{self.attribution.describe()}. Largest contributions: {top}")
        elif self.permutation_attribution is not None:
            top = ", ".join(f"{r.feature} ({r.drop:+.3f})"
                            for r in self.permutation_attribution.head(3).itertuples())
            out.append(f"permuting these features removes most of the gap: {top}")
        elif self.occlusion is not None:
            out.append(self.occlusion.describe())
        if self.proxies is not None and len(self.proxies):
            best = self.proxies.iloc[0]
            out.append(
                f"strongest proxy of the group: {best['feature']} (AUC {best['auc']:.2f} "
                f"alone; all features together {self.proxies.attrs['all_features_auc']:.2f})"
            )
        for where, per_group in self.data_bias.items():
            dpl = {k: v.get("DPL") for k, v in per_group.items() if "DPL" in v}
            if dpl:
                k = max(dpl, key=lambda name: abs(dpl[name]))
                out.append(f"{where}: the positive-label rate of {k} differs from the rest's by "
                           f"{-dpl[k]:+.3f} (Clarify DPL {dpl[k]:+.3f})")
        return out

    # ------------------------------------------------------------------------- figures
    def build_figures(self) -> Dict[str, Any]:
        """Build the figures (matplotlib) into ``self.figures`` and return them."""
        figs = {}
        if self.report.is_binary:
            figs["group_rates"] = plot_group_rates(self.report)
        if self.main_test is not None:
            figs["null_distribution"] = plot_null_distribution(self.main_test)
        if self.attribution is not None:
            if self.attribution.maps is not None:
                figs["attribution_maps"] = plot_attribution_maps(self.attribution)
            else:
                figs["attribution"] = plot_gap_attribution(self.attribution)
        elif self.occlusion is not None:
            figs["attribution_maps"] = plot_attribution_maps(self.occlusion)
        if self.proxies is not None and len(self.proxies):
            figs["proxies"] = plot_proxies(self.proxies)
        if self.partial_dependence:
            figs["partial_dependence"] = plot_partial_dependence(self.partial_dependence)
        self.figures = figs
        return figs

    def save_figures(self, folder: Union[str, os.PathLike], *, prefix: str = "audit_") -> Dict:
        """Write every figure as ``<folder>/<prefix><name>.png``; returns name → path."""
        os.makedirs(folder, exist_ok=True)
        paths = {}
        for name, fig in self.figures.items():
            path = os.path.join(os.fspath(folder), f"{prefix}{name}.png")
            with open(path, "wb") as f:
                f.write(figure_bytes(fig, fmt="png"))
            paths[name] = path
        return paths

    # ---------------------------------------------------------------------------- JSON
    def to_dict(self) -> Dict[str, Any]:
        """Everything but the figures, as JSON-ready values (NaN → None)."""
        att = None
        if self.attribution is not None:
            a = self.attribution
            att = {
                "features": a.names, "contributions": a.contributions,
                "by_group": {n: row for n, row in zip(a.group_names, a.by_group)},
                "mean_output": dict(zip(a.group_names, a.mean_output)),
                "between": [a.group_names[a.between[0]], a.group_names[a.between[1]]],
                "gap": a.gap, "completeness_error": a.completeness_error,
                "output": a.output, "method": a.method, "steps": a.steps,
                "baselines": a.num_baselines,
            }
        return _jsonable({
            "title": self.title,
            "meta": self.meta,
            "findings": self.findings(),
            "summary": self.summary,
            "significance": self.significance.to_dict(orient="records"),
            "groups": self.groups.reset_index().to_dict(orient="records"),
            "data_bias": self.data_bias,
            "attribution": att,
            "permutation_attribution": (None if self.permutation_attribution is None else
                                        self.permutation_attribution.to_dict(orient="records")),
            "occlusion": (None if self.occlusion is None else {
                "maps": dict(zip(self.occlusion.group_names, self.occlusion.maps)),
                "patch": self.occlusion.patch, "gap": self.occlusion.gap}),
            "proxies": (None if self.proxies is None else {
                "features": self.proxies.to_dict(orient="records"),
                "all_features_auc": self.proxies.attrs.get("all_features_auc")}),
            "partial_dependence": [
                {"feature": p.feature, "grid": p.grid, "output": p.output,
                 "values": dict(zip(p.group_names, p.values))}
                for p in self.partial_dependence
            ],
            "notes": self.notes,
            "timings": self.timings,
        })

    def to_json(self, path: Optional[Union[str, os.PathLike]], *, indent: int = 2) -> str:
        """The report as JSON (strict: NaN written as null); written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    # ------------------------------------------------------------------------ tables
    def _tables(self) -> Dict[str, List[tuple]]:
        """Every table of the page as (header, rows) of strings, by section id."""
        tables: Dict[str, List[tuple]] = {}
        frame = self.groups
        cols = [c for c in _GROUP_COLUMNS if c in frame.columns]
        tables["groups"] = [(["group"] + cols,
                             [[str(idx)] + [(_p(frame.loc[idx, c]) if c.endswith("_p")
                                             else _fmt(frame.loc[idx, c])) for c in cols]
                              for idx in frame.index])]
        rows = []
        for row in self.significance.itertuples():
            lo, hi = self.summary.get(f"{row.gap}_lo"), self.summary.get(f"{row.gap}_hi")
            interval = "–" if lo is None else f"[{_fmt(lo, 3)}, {_fmt(hi, 3)}]"
            rows.append([row.gap, _fmt(row.observed), interval, _p(row.p_value),
                         _p(row.p_holm), _fmt(bool(row.reject)), row.test, row.null])
        tables["significance"] = [(["gap", "observed", "95 % interval", "p", "p (Holm)",
                                    "reject", "test", "null hypothesis"], rows)]
        bias = []
        for where, per_group in self.data_bias.items():
            keys = [k for k in _BIAS_KEYS if any(k in v for v in per_group.values())]
            bias.append((
                [f"{where}: facet vs rest"] + keys,
                [[name] + [_fmt(v.get(k)) for k in keys] for name, v in per_group.items()],
            ))
        tables["data-bias"] = bias
        att = []
        if self.attribution is not None:
            a = self.attribution
            frame = a.to_pandas().head(15)
            group_cols = [c for c in frame.columns if c.startswith("mean[")]
            att.append((["feature", "contribution", "share of gap"] + group_cols,
                        [[r["feature"], _fmt(r["contribution"]), _fmt(r["share_of_gap"], 3)]
                         + [_fmt(r[c]) for c in group_cols] for _, r in frame.iterrows()]))
        elif self.permutation_attribution is not None:
            frame = self.permutation_attribution.head(15)
            att.append((["feature", "gap removed", "std", "gap after permuting"],
                        [[r.feature, _fmt(r.drop), _fmt(r.std), _fmt(r.permuted_gap)]
                         for r in frame.itertuples()]))
        tables["attribution"] = att
        if self.proxies is not None:
            tables["proxies"] = [(["feature", "AUC (feature alone)", "encoded columns"],
                                  [[r.feature, _fmt(r.auc, 3), str(r.columns)]
                                   for r in self.proxies.itertuples()])]
        return tables

    def _texts(self) -> Dict[str, List[str]]:
        """Prose of each section (plain text paragraphs)."""
        meta = self.meta
        texts = {
            "groups": [
                "Rates per group with the overall rate; p-values test each group against the "
                "overall rate (exact permutation, Holm-adjusted across groups)."],
            "significance": [
                "Permutation tests of “no difference between groups”, drawn from the counts. "
                "Rates: exact conditional tests (group ids permuted within the rate's stratum; "
                "true positive and false positive rates within the label strata, so unequal "
                "base rates are not mistaken for a gap). Mean score and AUC: studentized "
                "statistics (DiCiccio et al., KDD 2020), valid for “equal metric”.",
                f"Multiple testing: {meta.get('correction', 'Holm')}."],
            "data-bias": [
                "SageMaker Clarify's pre-training metrics on the labels, each group (facet d) "
                "against the rest (a): CI class imbalance, DPL difference in positive-label "
                "proportions (a − d), KL, JS, TVD, KS distances of the label distributions."],
            "attribution": [],
            "proxies": [],
            "partial-dependence": [],
            "method": [],
        }
        if self.attribution is not None:
            a = self.attribution
            texts["attribution"] = [
                a.describe() + ".",
                f"Expected gradients: integrated gradients along straight paths from "
                f"{a.num_baselines} baseline(s) to each row, through the net's own autograd; "
                f"each group's mean attributions add up to its mean {a.output} minus the "
                f"baselines', so the contributions add up to the gap. One-hot blocks of one "
                f"column are one feature. Positive: pushes the first group's {a.output} above "
                f"the second's."]
        elif self.permutation_attribution is not None:
            pa = self.permutation_attribution
            texts["attribution"] = [
                f"The gap in {pa.attrs.get('quantity')} ({pa.attrs.get('gap', float('nan')):+.4f}"
                f") and how much of it goes away when a feature is permuted across rows (no "
                f"gradients available; these shares do not add up to the gap)."]
        elif self.occlusion is not None:
            texts["attribution"] = [
                self.occlusion.describe() + ".",
                "Each map shows, per image region, how much a group's mean output drops when the "
                "region is replaced by the mean image's (forward passes only: the net's "
                "gradients were unavailable or unreliable). The last map is their difference; "
                "unlike gradient contributions these do not add up to the gap."]
        else:
            texts["attribution"] = ["Not computed (audit(attribution=False))."]
        if self.proxies is not None:
            texts["proxies"] = [
                "How well each feature alone predicts the group: cross-validated AUC of a "
                "logistic model (0.5: no information; 1: the feature reveals the group). A "
                "strong proxy that also drives the gap is how a model uses the sensitive "
                "attribute without seeing it."]
        else:
            texts["proxies"] = ["Not computed (image inputs, or audit(proxies=False))."]
        if self.partial_dependence:
            texts["partial-dependence"] = [
                "Mean output of each group's rows as the top gap drivers are set to each value "
                "(a one-hot block: each category). Parallel curves: the feature moves both "
                "groups alike; the gap between the curves is the rest of the model."]
        else:
            texts["partial-dependence"] = ["Not computed (image inputs or no attribution)."]
        settings = ", ".join(f"{k} = {v}" for k, v in meta.items()
                             if k not in ("groups", "counts", "correction"))
        timing = ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items())
        texts["method"] = [f"Settings: {settings}.", f"Time: {timing}."]
        texts["method"] += [f"Note: {n}" for n in self.notes] or ["No warnings."]
        return texts

    # ----------------------------------------------------------------------------- HTML
    def to_html(self, path: Optional[Union[str, os.PathLike]], *,
                image_format: str = "png") -> str:
        """One self-contained HTML page (figures embedded as base64 PNG or SVG).

        Parameters
        ----------
        path : path, optional
            Write the page there.
        image_format : {"png", "svg"}, default "png"

        Returns
        -------
        str
            The page.
        """
        if image_format not in ("png", "svg"):
            raise ValueError(f"image_format must be 'png' or 'svg', got {image_format!r}")
        mime = "image/png" if image_format == "png" else "image/svg+xml"
        esc = html.escape

        def img(name: str, alt: str) -> str:
            fig = self.figures.get(name)
            if fig is None:
                return ""
            data = base64.b64encode(figure_bytes(fig, fmt=image_format)).decode("ascii")
            return f'<img alt="{esc(alt)}" src="data:{mime};base64,{data}">'

        def table(header, rows) -> str:
            head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
            body = "".join(
                "<tr>" + "".join(
                    f'<td class="{"yes" if c == "yes" else "no" if c == "no" else ""}">'
                    f"{esc(str(c))}</td>" for c in r) + "</tr>" for r in rows)
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

        tables, texts = self._tables(), self._texts()
        figures = {
            "groups": [("group_rates", "rates by group")],
            "significance": [("null_distribution", "permutation distribution")],
            "attribution": [("attribution", "gap attribution"),
                            ("attribution_maps", "attribution maps")],
            "proxies": [("proxies", "proxy AUC")],
            "partial-dependence": [("partial_dependence", "partial dependence")],
        }
        meta = self.meta
        groups = ", ".join(f"{n} ({c})" for n, c in zip(meta["groups"], meta["counts"]))
        parts = [
            "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(self.title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
            f'<p class="meta">{meta["rows"]} rows; groups {esc(groups)}; '
            f'{"logits" if meta["from_logits"] else "probabilities"} thresholded at '
            f'{meta["threshold"]}; run on {esc(meta["context"])}.</p>',
        ]
        for anchor, heading in SECTIONS:
            parts.append(f'<section id="{anchor}"><h2>{esc(heading)}</h2>')
            if anchor == "findings":
                parts.append("<ul>" + "".join(f"<li>{esc(s)}</li>" for s in self.findings())
                             + "</ul>")
            for paragraph in texts.get(anchor, []):
                parts.append(f'<p class="note">{esc(paragraph)}</p>')
            for header, rows in tables.get(anchor, []):
                parts.append(table(header, rows))
            for name, alt in figures.get(anchor, []):
                parts.append(img(name, alt))
            parts.append("</section>")
        parts.append("</body></html>")
        page = "\n".join(parts)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(page)
        return page

    # ------------------------------------------------------------------------- Markdown
    def to_markdown(self, path: Optional[Union[str, os.PathLike]], *,
                    figures_dir: Optional[Union[str, os.PathLike]] = None) -> str:
        """The report as Markdown (tables; with ``figures_dir`` the figures are written there
        as PNG and linked relative to ``path``'s folder)."""
        links = {}
        if figures_dir is not None and os.path.exists(figures_dir) \
                and not os.path.isdir(figures_dir):
            raise ValueError(f"figures_dir must be a folder, got the file {figures_dir!r}")
        if figures_dir is not None and self.figures:
            paths = self.save_figures(figures_dir)
            base = os.path.dirname(os.fspath(path)) if path is not None else os.getcwd()
            links = {k: os.path.relpath(v, base) for k, v in paths.items()}

        def table(header, rows) -> List[str]:
            clean = [[str(c).replace("|", "\\|") for c in r] for r in rows]
            return (["| " + " | ".join(map(str, header)) + " |",
                     "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in clean]
                    + [""])

        tables, texts = self._tables(), self._texts()
        figure_of = {"groups": "group_rates", "significance": "null_distribution",
                     "attribution": "attribution", "proxies": "proxies",
                     "partial-dependence": "partial_dependence"}
        lines = [f"# {self.title}", ""]
        for anchor, heading in SECTIONS:
            lines += [f"## {heading}", ""]
            if anchor == "findings":
                lines += [f"- {s}" for s in self.findings()] + [""]
            for paragraph in texts.get(anchor, []):
                lines += [paragraph, ""]
            for header, rows in tables.get(anchor, []):
                lines += table(header, rows)
            name = figure_of.get(anchor)
            if anchor == "attribution" and "attribution_maps" in links:
                name = "attribution_maps"
            if name in links:
                lines += [f"![{name}]({links[name]})", ""]
        text = "\n".join(lines)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    def __repr__(self) -> str:
        return (f"AuditReport({self.title!r}, rows={self.meta['rows']}, "
                f"groups={self.meta['groups']}, gaps={len(self.significance)})")
