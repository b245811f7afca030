"""The claims ledger: rows with overrides and settings, old-style calls and old files, `reset_claims`, the table the
landing page shows; the work units of a run record; the book passing `-p executor` only to chapters that take it."""
import json
from pathlib import Path

import numpy as np
import pytest

from minfo import harness as R

ROOT = Path(__file__).resolve().parents[1]
ROW = dict(chapter="ch", reference="§1", statement="s", measured=1.5, tolerance="> 1", reproduced=True)


def test_old_style_call_is_a_plain_profile_row(tmp_path):
    row = R.record_claim("a", profile="cpu", results_dir=tmp_path, **ROW)
    assert row["run_as"] == "cpu" and row["overrides"] == {} and row["settings"] == {}
    assert "at `cpu` |" in R.claims_table(R.load_claims(tmp_path))


def test_overrides_are_stored_and_shown(tmp_path):
    R.record_claim("a", profile="paper", results_dir=tmp_path, overrides={"steps": 500, "levels": [2, 4]},
                   settings={"N": np.int64(64), "critic": (512, 512), "lr": np.float32(0.5)}, **ROW)
    (row,) = R.load_claims(tmp_path)
    assert row["profile"] == "paper" and row["overrides"] == {"steps": 500, "levels": [2, 4]}
    assert row["run_as"] == "paper + overrides: levels=[2, 4], steps=500"
    assert row["settings"] == {"N": 64, "critic": [512, 512], "lr": 0.5}
    stored = json.loads((tmp_path / "claims" / "ch.json").read_text())["a"]
    assert stored["run_as"] == row["run_as"]            # in the file too, not only on loading
    table = R.claims_table([row])
    assert "**with overrides** levels=[2, 4], steps=500" in table and "N=64" in table
    assert "at `paper` |" not in table                  # never shown as a plain paper row


def test_rows_written_before_overrides_load_as_plain_rows(tmp_path):
    (tmp_path / "claims").mkdir()
    old = dict(id="x", profile="smoke", note="", recorded="2026-01-01 00:00", **ROW)
    (tmp_path / "claims" / "ch.json").write_text(json.dumps({"x": old}))
    (row,) = R.load_claims(tmp_path)
    assert row["run_as"] == "smoke" and row["overrides"] == {} and row["settings"] == {}
    assert "reproduced at `smoke`" in R.claims_table([row]) and row["verdict"] == "reproduced"


@pytest.mark.parametrize("kw, msg", [
    (dict(overrides=["steps"]), "overrides must be a dict"),
    (dict(overrides={1: 2}), "overrides must have string keys"),
    (dict(settings={"f": object()}), "settings must hold JSON-able"),
    (dict(settings="N=64"), "settings must be a dict"),
])
def test_bad_overrides_or_settings(tmp_path, kw, msg):
    with pytest.raises(TypeError, match=msg):
        R.record_claim("a", profile="cpu", results_dir=tmp_path, **kw, **ROW)
    assert not (tmp_path / "claims" / "ch.json").exists()


def test_reset_claims_drops_stale_rows(tmp_path):
    for cid in ("a", "b"):
        R.record_claim(cid, profile="cpu", results_dir=tmp_path, **ROW)
    R.record_claim("c", profile="cpu", results_dir=tmp_path, **dict(ROW, chapter="other"))
    assert R.reset_claims("ch", tmp_path) == 2
    R.record_claim("a", profile="cpu", results_dir=tmp_path, **ROW)          # the rerun produces only "a"
    assert [(r["chapter"], r["id"]) for r in R.load_claims(tmp_path)] == [("ch", "a"), ("other", "c")]
    assert R.reset_claims("nothing-here", tmp_path) == 0
    with pytest.raises(ValueError, match="without slashes"):
        R.reset_claims("../x", tmp_path)


def test_work_units_in_the_record(tmp_path):
    rec = R.start_run("ch", "smoke", "cpu")
    rec.add_work("critic steps", 3000, 2.0)
    rec.add_work("critic steps", 1000, 2.0)
    rec.add_work("images", 500, 0.0)
    rec.finish(tmp_path)
    stored = json.loads((tmp_path / "runs" / "ch.json").read_text())["work"]
    assert stored["critic steps"] == {"amount": 4000, "seconds": 4.0, "rate": 1000.0, "flops": None, "flop_rate": None}
    assert stored["images"]["rate"] is None
    assert "4,000 critic steps in 4 s, 1,000/s" in rec.summary() and "500 images in 0 s" in rec.summary()
    for bad in (dict(kind=" ", amount=1, seconds=1), dict(kind="x", amount=True, seconds=1), dict(kind="x", amount=1, seconds=-1)):
        with pytest.raises(ValueError):
            rec.add_work(**bad)


def test_book_passes_executor_only_to_chapters_that_take_it():
    from minfo.harness.book import chapter_params, main, notebook_parameters
    for ch in ("02_high_mi", "03_representation_mi", "04_label_mi", "05_vinfomax", "06_sae", "08_benchmark", "08c_derangements"):
        assert "executor" in notebook_parameters(ROOT / "nbs" / f"{ch}.ipynb"), ch
    assert "executor" not in notebook_parameters(ROOT / "nbs" / "01_background.ipynb")   # nothing to fan out there
    assert "executor" not in chapter_params("cpu", "auto", "/r")
    assert chapter_params("cpu", "auto", "/r", "ray")["executor"] == "ray"
    with pytest.raises(SystemExit):
        main(["--executor", "dask"])
    with pytest.raises(ValueError, match="unknown executor"):
        chapter_params("cpu", "auto", "/r", "dask")
