"""Packaging: the wheel (name, metadata, LICENSE, no notebooks), and installs into fresh environments that hold only
the core requirements (torch, numpy, tqdm and what they need): from the wheel and from a checkout (`pip install .`).

A fresh venv does not download torch: the distributions of the core requirements (and their own requirements,
read from their metadata) are made visible in it by symlinks into one folder named in a `.pth` file, and pip
installs minfo with `--no-index`, so it resolves the requirements against exactly those and nothing else.
torchvision, matplotlib, papermill, ... are not visible there, which is the point."""
import configparser
import importlib.metadata as md
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from conftest import ROOT

CFG = configparser.ConfigParser(delimiters=["="])
CFG.read(ROOT / "settings.ini")
CFG = CFG["DEFAULT"]
DIST = CFG["dist_name"]
CORE = [Requirement(r).name for r in CFG["requirements"].split()]
SITE = Path(sysconfig.get_paths()["purelib"])


def _closure(names: list[str]) -> dict[str, md.Distribution]:
    "The installed distributions `names` and, transitively, what they require (with the extras they ask for)."
    seen, done, todo = {}, set(), [(n, frozenset()) for n in names]
    while todo:
        req, extras = todo.pop()
        key = re.sub(r"[-_.]+", "-", req).lower()
        if (key, extras) in done:
            continue
        done.add((key, extras))
        seen[key] = dist = md.distribution(req)
        for r in dist.requires or []:
            r = Requirement(r)
            if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in ("", *extras)):
                todo.append((r.name, frozenset(r.extras)))
    return seen


def _visible_site(dest: Path, names: list[str]) -> Path:
    "A folder of symlinks to the files of the distributions `names` need (top-level entries of their RECORD)."
    dest.mkdir()
    for dist in _closure(names).values():
        for f in dist.files or []:
            top = Path(f).parts[0]
            if top != ".." and (SITE / top).exists() and not (dest / top).exists():
                (dest / top).symlink_to(SITE / top)
    return dest


def _fresh_venv(path: Path, visible: list[Path]) -> Path:
    "A venv without pip (the test's own pip installs into it) that sees the folders `visible` through a .pth file."
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    py = path / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "zz_visible.pth").write_text("".join(f"{v}\n" for v in visible))
    return py


def _pip_install(py: Path, *args: str, cwd: Path):
    # --isolated: no pip configuration (find-links, extra indexes) takes part; --no-index: nothing is downloaded
    return subprocess.run([sys.executable, "-m", "pip", "--isolated", "--python", str(py), "install", "-q", "--no-index",
                           "--no-build-isolation", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, cwd=out, capture_output=True)
    whl, = out.glob(f"{DIST.replace('-', '_')}-*.whl")
    return whl


def test_wheel_contents_and_metadata(wheel):
    z = zipfile.ZipFile(wheel)
    names = z.namelist()
    assert {"minfo/utils.py", "minfo/harness/__init__.py", "minfo/harness/chapter.py", "minfo/__init__.py", "minfo/cli.py",
            "minfo/__main__.py"} <= set(names)
    assert not [n for n in names if n.endswith(".ipynb") or n.startswith(("nbs/", "tests/"))], names
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert z.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in z.read(f"{info}/licenses/LICENSE")
    meta = z.read(f"{info}/METADATA").decode()
    head = meta.split("\n\n", 1)[0]  # the header fields, before the README
    field = lambda k: re.findall(rf"^{k}: (.*)$", head, re.M)
    assert field("Name") == [DIST] and field("Version") == [CFG["version"]]
    assert field("License-Expression") == ["Apache-2.0"]
    assert field("Requires-Python") == [f">={CFG['min_python']}"]
    statuses = ["Planning", "Pre-Alpha", "Alpha", "Beta", "Production/Stable", "Mature", "Inactive"]
    assert f"Development Status :: {CFG['status']} - {statuses[int(CFG['status']) - 1]}" in field("Classifier")
    assert f"Programming Language :: Python :: {CFG['min_python']}" in field("Classifier")
    assert not re.search(r"example\.(org|com)|github\.com/minfo|Author-email|Home-page", head), head
    core = [r for r in field("Requires-Dist") if "extra ==" not in r]
    assert sorted(Requirement(r).name for r in core) == sorted(CORE) == ["numpy", "torch", "tqdm"]
    assert {"vision", "plots", "book", "all"} <= set(field("Provides-Extra"))
    assert 'torchvision>=0.17; extra == "vision"' in field("Requires-Dist")
    assert "minfo = minfo.cli:main" in z.read(f"{info}/entry_points.txt").decode()


def test_readme_installs_the_distribution_name():
    text = (ROOT / "README.md").read_text()
    assert "pip install minfo\n" not in text and "pip install minfo " not in text  # `minfo` on the index is another project
    assert DIST in text


CORE_USE = r"""
import sys, json
import numpy as np
import minfo
assert "torch" not in sys.modules, "import minfo imported torch"
import minfo.bounds, minfo.info, minfo.gaussians, minfo.critics, minfo.estimate, minfo.evaluate, minfo.utils, minfo.harness, minfo.cli
import minfo.vinfo, minfo.sae, minfo.tasks, minfo.estimators
EXTRAS = ("torchvision", "matplotlib", "papermill", "nbformat", "nbdev", "yaml", "sklearn", "ray", "zuko")
extras = sorted(m for m in EXTRAS if m in sys.modules)
assert not extras, f"core modules imported extras: {extras}"
for mod in ("torchvision", "matplotlib", "papermill"):
    try:
        __import__(mod)
    except ImportError:
        pass
    else:
        raise AssertionError(f"{mod} is importable: the environment is not core-only")
from minfo import estimate_mi, CorrelatedGaussians
rng = np.random.default_rng(0)
x = rng.standard_normal(400); y = x + rng.standard_normal(400)
res = estimate_mi(x, y, steps=30, batch_size=64, hidden=(16,), device="cpu", seed=0)
assert np.isfinite(res.value), res
messages = {}
for mod in ("minfo.data", "minfo.harness.book"):
    try:
        __import__(mod)
    except ImportError as e:
        messages[mod] = str(e)
print(json.dumps({"file": minfo.__file__, "value": float(res.value), "messages": messages}))
"""


def _check_core_env(py: Path, venv: Path, cwd: Path):
    res = subprocess.run([str(py), "-c", CORE_USE], capture_output=True, text=True, cwd=cwd)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(venv)), f"minfo was not imported from the fresh environment: {out['file']}"
    assert f"pip install '{DIST}[vision]'" in out["messages"]["minfo.data"], out["messages"]
    assert f"pip install '{DIST}[book]'" in out["messages"]["minfo.harness.book"], out["messages"]


def test_wheel_installs_with_only_the_core_requirements(wheel, tmp_path):
    t0 = time.perf_counter()
    visible = _visible_site(tmp_path / "core_site", CORE)
    assert not (visible / "torchvision").exists() and not (visible / "matplotlib").exists()
    py = _fresh_venv(tmp_path / "venv", [visible])
    res = _pip_install(py, str(wheel), cwd=tmp_path)  # resolves torch/numpy/tqdm against the visible ones only
    assert res.returncode == 0, res.stderr
    _check_core_env(py, tmp_path / "venv", tmp_path)
    cli = subprocess.run([str(tmp_path / "venv" / "bin" / "minfo"), "--version"], capture_output=True, text=True)
    assert cli.returncode == 0 and cli.stdout.strip() == f"minfo {CFG['version']}", cli
    print(f"fresh core venv from the wheel: {time.perf_counter() - t0:.1f} s")


def test_checkout_installs_with_pip_install_dot(tmp_path):
    "`pip install .` from a copy of the checkout (the build needs setuptools, made visible for the build only)."
    t0 = time.perf_counter()
    src = tmp_path / "checkout"
    src.mkdir()
    for name in ("settings.ini", "setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "minfo", src / "minfo", ignore=shutil.ignore_patterns("__pycache__"))
    visible = _visible_site(tmp_path / "core_site", CORE)
    build = _visible_site(tmp_path / "build_site", ["setuptools", "wheel"])
    py = _fresh_venv(tmp_path / "venv", [visible, build])
    res = _pip_install(py, ".", cwd=src)
    assert res.returncode == 0, res.stderr
    _check_core_env(py, tmp_path / "venv", tmp_path)
    print(f"fresh core venv from the checkout: {time.perf_counter() - t0:.1f} s")


def test_extra_modules_name_their_extra_when_it_is_missing(tmp_path):
    "In this environment the extras are installed; hide them and the import error names the extra to install."
    hide = ("import sys\n"
            "sys.modules.update(torchvision=None, papermill=None)  # as if not installed: import fails, find_spec is None\n"
            "for mod, extra in (('minfo.data', 'vision'), ('minfo.harness.book', 'book')):\n"
            "    try: __import__(mod)\n"
            "    except ImportError as e: assert f\"pip install '" + DIST + "[{extra}]'\" in str(e), e\n"
            "    else: raise AssertionError(mod + ' imported without its extra')\n")
    res = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_import_minfo_is_light():
    probe = ("import sys, time; t = time.perf_counter(); import minfo; dt = time.perf_counter() - t; "
             "print(sorted(m for m in ('torch', 'numpy', 'torchvision', 'matplotlib') if m in sys.modules), dt)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    assert out[0] == "[]", out
    res = subprocess.run([sys.executable, "-c", "from minfo import no_such_name"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 1 and "cannot import name 'no_such_name'" in res.stderr
