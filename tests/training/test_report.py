"""The report: JSON and Markdown tables, and valid PNG curves."""

from __future__ import annotations

import json

from training.report import curve_filename, markdown_table, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TABLE = {
    "pytorch": {"ndcg@10": 0.5, "map": 0.15},
    "ease": {"ndcg@10": 0.487, "precision@10": 0.425},
}
CURVES = {
    "pytorch": {"loss": [3.0, 2.5, 2.2], "valid_ndcg@10": [0.1, 0.2, 0.25]},
    "tensorflow": {"loss": [3.0, 2.4]},
}


def test_write_report_files(tmp_path) -> None:
    out = tmp_path / "report"
    written = write_report(out, TABLE, CURVES)
    body = json.loads((out / "report.json").read_text())
    assert body["metrics"] == TABLE
    assert body["curves"]["tensorflow"]["loss"] == [3.0, 2.4]
    assert sorted(body["plots"]) == ["loss.png", "valid_ndcg_10.png"]
    for name in body["plots"]:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000
    md = (out / "report.md").read_text()
    assert "| pytorch | 0.5000 | 0.1500 |  |" in md
    assert "![loss](loss.png)" in md
    assert written["json"] == out / "report.json"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_markdown_columns_are_the_union_in_first_seen_order() -> None:
    lines = markdown_table(TABLE).splitlines()
    assert lines[0] == "| model | ndcg@10 | map | precision@10 |"
    assert lines[3] == "| ease | 0.4870 |  | 0.4250 |"


def test_no_curves_writes_tables_only(tmp_path) -> None:
    write_report(tmp_path, TABLE, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.md"]


def test_curve_filenames_are_safe() -> None:
    assert curve_filename("valid ndcg@10/../x") == "valid_ndcg_10_.._x.png"
