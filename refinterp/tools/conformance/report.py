"""The reports of ``refinterp conformance run``: the terminal summary, JUnit XML and a self-contained HTML page.

All three are made from the run's report dict (:func:`refinterp.tools.conformance.run.run_suite`; its JSON
schema is docs/conformance.schema.json), so they always agree with the JSON report.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from typing import Any

#: how many failing or erring cases the terminal summary lists one per line
LISTED_CASES = 20
#: the HTML report lists at most this many cases that did not pass, in detail
HTML_LISTED_CASES = 2000
#: the terminal table cuts the LSB histogram to this many characters (the JSON and HTML reports have it all)
HISTOGRAM_WIDTH = 40


def _shortened(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3].rsplit(" ", 1)[0] + " ..."


def _figure(value: Any) -> str:
    return "-" if value is None else str(value)


def _bias(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3g}"


def _histogram_text(histogram: dict[str, int]) -> str:
    return " ".join(f"{key}:{count}" for key, count in histogram.items()) or "-"


def _verify_text(report: dict[str, Any]) -> str:
    verify = report["verify"]
    parts = [f"{verify['tolerance_lsb']} LSB" if verify["tolerance_lsb"] else "integers exact",
             f"{verify['tolerance_ulp']} ULP" if verify["tolerance_ulp"] else "floats bit for bit"]
    return ", ".join(parts) + f"; {verify['timeout_seconds']:g} s per case"


def summary_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The table by operator and dtype kind (plus a total line)."""
    headers = ("operator", "kind", "cases", "pass", "fail", "error", "unsup", "max LSB", "max ULP", "bias LSB",
               "LSB histogram")
    body = [(r["operator"], r["kind"], str(r["cases"]), str(r["pass"]), str(r["fail"]), str(r["error"]),
             str(r["unsupported"]), _figure(r["max_lsb"]), _figure(r["max_ulp"]), _bias(r["bias_lsb"]),
             _shortened(_histogram_text(r["histogram_lsb"]), HISTOGRAM_WIDTH)) for r in rows]
    totals = ("total", "", *(str(sum(r[k] for r in rows)) for k in ("cases", "pass", "fail", "error", "unsupported")),
              _figure(max((r["max_lsb"] for r in rows if r["max_lsb"] is not None), default=None)),
              _figure(max((r["max_ulp"] for r in rows if r["max_ulp"] is not None), default=None)), "", "")
    widths = [max(len(line[i]) for line in (headers, *body, totals)) for i in range(len(headers))]
    numeric = set(range(2, 10))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
                         for i, cell in enumerate(cells)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(cells) for cells in body),
            line(["-" * w for w in widths]), line(totals)]


def format_summary(report: dict[str, Any]) -> str:
    """What ``refinterp conformance run`` prints: the runtime, the table, the cases that did not pass."""
    against = report["against"]
    suite = report["suite"]
    counts = report["counts"]
    version = f" ({against['version']})" if against.get("version") else ""
    oracle = suite.get("oracle") or {}
    lines = [f"suite:   {suite['path']} ({counts['cases']} of {suite['total']} cases run; expected outputs from "
             f"{oracle.get('name', '?')} {oracle.get('version', '')}".rstrip() + ")",
             f"against: {against['spec']}{version}",
             f"verify:  {_verify_text(report)}", ""]
    lines += summary_lines(report["summary"])
    not_passed = [c for c in report["cases"] if c["status"] in ("fail", "error")]
    if not_passed:
        lines += ["", f"{len(not_passed)} case(s) failed or erred"
                  + (f", the first {LISTED_CASES}:" if len(not_passed) > LISTED_CASES else ":")]
        lines += [f"  {c['id']}: {c['status']}: {c['message']}" for c in not_passed[:LISTED_CASES]]
    inexact = sum(1 for c in report["cases"] if c["status"] == "pass" and not c["exact"])
    lines.append("")
    lines.append(f"{counts['pass']} passed ({inexact} within tolerance, not exact), {counts['fail']} failed, "
                 f"{counts['error']} errors, {counts['unsupported']} unsupported in {report['seconds']:.1f} s "
                 f"({report['executor']['name']}, {report['executor']['jobs']} job(s))"
                 if inexact else
                 f"{counts['pass']} passed, {counts['fail']} failed, {counts['error']} errors, "
                 f"{counts['unsupported']} unsupported in {report['seconds']:.1f} s "
                 f"({report['executor']['name']}, {report['executor']['jobs']} job(s))")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# JUnit XML


def _case_details(case: dict[str, Any]) -> str:
    lines = [f"{case['id']}: {case['status']}"]
    if case.get("message"):
        lines.append(case["message"])
    for output in case.get("outputs", []):
        if output["differing"] or output["mismatch"]:
            lines.append(f"output {output['output']} {output['dtype']}{output['shape']}: {output['differing']} of "
                         f"{output['elements']} differ, max {_figure(output['max_diff'])} "
                         f"{(output['unit'] or '').upper()}, bias {_bias(output['bias'])}, "
                         f"histogram {_histogram_text(output['histogram'])}, first {output['first_difference']}")
    if case.get("targets"):
        lines.append(f"targets: {', '.join(case['targets'])}; seed {case.get('seed')}")
    return "\n".join(lines)


def junit_xml(report: dict[str, Any]) -> str:
    """JUnit XML: one testsuite per (operator, kind), one testcase per case (classname ``OPERATOR.kind``);
    fail -> <failure>, error -> <error>, unsupported -> <skipped>."""
    cases_by_row: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for case in report["cases"]:
        cases_by_row.setdefault((case["operator"], case["kind"]), []).append(case)
    counts = report["counts"]
    root = ElementTree.Element("testsuites", {
        "name": f"refinterp conformance against {report['against']['spec']}", "tests": str(counts["cases"]),
        "failures": str(counts["fail"]), "errors": str(counts["error"]), "skipped": str(counts["unsupported"]),
        "time": f"{report['seconds']:.3f}"})
    for (operator, kind), cases in cases_by_row.items():
        suite = ElementTree.SubElement(root, "testsuite", {
            "name": f"{operator}.{kind}", "tests": str(len(cases)),
            "failures": str(sum(c["status"] == "fail" for c in cases)),
            "errors": str(sum(c["status"] == "error" for c in cases)),
            "skipped": str(sum(c["status"] == "unsupported" for c in cases)),
            "time": f"{sum(c['seconds'] or 0 for c in cases):.3f}"})
        for case in cases:
            element = ElementTree.SubElement(suite, "testcase", {
                "classname": f"{operator}.{kind}", "name": case["id"].rsplit("/", 1)[-1],
                "file": case["id"], "time": f"{case['seconds'] or 0:.6f}"})
            message = case.get("message") or ""
            if case["status"] == "fail":
                ElementTree.SubElement(element, "failure", {"message": message, "type": "mismatch"}).text = \
                    _case_details(case)
            elif case["status"] == "error":
                ElementTree.SubElement(element, "error", {"message": message, "type": "error"}).text = \
                    _case_details(case)
            elif case["status"] == "unsupported":
                ElementTree.SubElement(element, "skipped", {"message": f"unsupported: {message}"})
            elif message:  # a pass within tolerance: the exact figures still go on record
                ElementTree.SubElement(element, "system-out").text = _case_details(case)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------------------------------
# HTML

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}
th{background:#f0f0f0}td.l,th.l{text-align:left}
tr.pass td.s{background:#dff5df}tr.fail td.s{background:#f9d6d5}tr.error td.s{background:#fbe3c2}
tr.unsupported td.s{background:#e8e8e8}
.pass{color:#1a7f37}.fail{color:#c62828}.error{color:#b45f06}.unsupported{color:#666}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}pre{white-space:pre-wrap;margin:.3em 0}
details{margin:.2em 0}summary{cursor:pointer}
.meta td{text-align:left;border:none;padding:.1em .6em .1em 0}
"""


def _cell(value: Any, css: str | None = None) -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{html.escape(str(value))}</td>"


def html_report(report: dict[str, Any]) -> str:
    """A self-contained HTML page (inline CSS, no script, no external asset): the run, the table by operator
    and dtype, and every case that did not pass exactly."""
    against, suite, counts = report["against"], report["suite"], report["counts"]
    oracle = suite.get("oracle") or {}
    title = f"refinterp conformance: {against['spec']}"
    meta_rows = [("suite", f"{suite['path']} ({counts['cases']} of {suite['total']} cases run)"),
                 ("expected outputs", f"{oracle.get('name', '?')} {oracle.get('version', '')}"),
                 ("against", f"{against['spec']}" + (f" ({against['version']})" if against.get("version") else "")),
                 ("verify", _verify_text(report)),
                 ("result", f"{counts['pass']} pass, {counts['fail']} fail, {counts['error']} error, "
                            f"{counts['unsupported']} unsupported; exit status {report['exit_status']}"),
                 ("time", f"{report['seconds']:.1f} s ({report['executor']['name']}, "
                          f"{report['executor']['jobs']} job(s))")]
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", '<table class="meta">']
    parts += [f'<tr><td><b>{html.escape(k)}</b></td><td class="l">{html.escape(v)}</td></tr>' for k, v in meta_rows]
    parts += ["</table>", "<h2>By operator and dtype</h2>", "<table><tr>",
              '<th class="l">operator</th><th class="l">kind</th><th>cases</th><th>pass</th><th>fail</th>'
              "<th>error</th><th>unsupported</th><th>within tolerance</th><th>max LSB</th><th>max ULP</th>"
              '<th>bias LSB</th><th class="l">LSB histogram</th></tr>']
    for row in report["summary"]:
        state = ("fail" if row["fail"] else "error" if row["error"] else
                 "unsupported" if row["unsupported"] == row["cases"] else "pass")
        parts.append(f'<tr class="{state}">' + _cell(row["operator"], "l") + _cell(row["kind"], "l")
                     + _cell(row["cases"]) + _cell(row["pass"], "s") + _cell(row["fail"]) + _cell(row["error"])
                     + _cell(row["unsupported"]) + _cell(row["inexact"]) + _cell(_figure(row["max_lsb"]))
                     + _cell(_figure(row["max_ulp"])) + _cell(_bias(row["bias_lsb"]))
                     + _cell(_histogram_text(row["histogram_lsb"]), "l") + "</tr>")
    parts.append("</table>")
    listed = [c for c in report["cases"] if c["status"] != "pass" or not c["exact"]]
    parts.append(f"<h2>Cases that did not pass exactly ({len(listed)})</h2>")
    if len(listed) > HTML_LISTED_CASES:
        parts.append(f"<p>The first {HTML_LISTED_CASES}; the JSON report has them all.</p>")
    for case in listed[:HTML_LISTED_CASES]:
        status = case["status"] if case["status"] != "pass" else "pass"
        label = f"{case['id']}: {status}" + (" (within tolerance)" if case["status"] == "pass" else "")
        details = json.dumps({k: case[k] for k in ("targets", "seed", "seconds", "outputs") if k in case}, indent=1)
        parts.append(f'<details><summary><span class="{status}">{html.escape(label)}</span> '
                     f"{html.escape(case.get('message') or '')}</summary><pre>{html.escape(details)}</pre></details>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
