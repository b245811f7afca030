"`minfo/` must be exactly what `nbdev_export` makes of `nbs/`, and every notebook must be clean (`nbdev_clean`)."
import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "nbs").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4, NOTEBOOKS


def test_library_in_sync_with_notebooks(tmp_path):
    "Export the notebooks into a scratch copy of the project and compare module by module."
    for name in ("settings.ini", "nbs"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, tmp_path / name)
    subprocess.run([sys.executable, "-c", "from nbdev.doclinks import nbdev_export; nbdev_export()"],
                   cwd=tmp_path, check=True, capture_output=True)
    made = {p.relative_to(tmp_path / "minfo"): p.read_text() for p in (tmp_path / "minfo").rglob("*.py")}
    have = {p.relative_to(ROOT / "minfo"): p.read_text() for p in (ROOT / "minfo").rglob("*.py")}
    made.pop(Path("__init__.py"), None); have.pop(Path("__init__.py"), None)
    stale = sorted(str(k) for k in have if k not in made)
    missing = sorted(str(k) for k in made if k not in have)
    differ = sorted(str(k) for k in made if k in have and made[k] != have[k])
    assert not (stale or missing or differ), (
        f"minfo/ is out of sync with nbs/ (run nbdev_export): differ {differ}, not exported {missing}, "
        f"no notebook exports {stale}")


def test_notebooks_are_clean(tmp_path):
    "nbdev_clean must change nothing (outputs stripped, only `tags` cell metadata kept)."
    for nb in NOTEBOOKS:
        shutil.copy2(nb, tmp_path / nb.name)
    shutil.copy2(ROOT / "settings.ini", tmp_path / "settings.ini")
    subprocess.run([sys.executable, "-c", "from nbdev.clean import nbdev_clean; nbdev_clean(fname='.')"],
                   cwd=tmp_path, check=True, capture_output=True)
    dirty = [nb.name for nb in NOTEBOOKS if json.loads((tmp_path / nb.name).read_text()) != json.loads(nb.read_text())]
    assert not dirty, f"notebooks not clean (run nbdev_clean): {dirty}"


def test_parameters_tags_survive_cleaning():
    "papermill needs the `parameters` tag: every chapter with experiments keeps one."
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        if any("## Experiments" in "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"):
            assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), nb.name
