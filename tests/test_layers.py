"""The library below, the harness above: no library module imports `minfo.harness` (walked over the import graph
of every module, imports inside functions included), and what that buys: editing the harness changes no cached
result's key, editing a library module changes the keys of exactly the results that use it."""
import ast
import shutil
from pathlib import Path

import pytest

from minfo.harness import cache_path, code_fingerprint

PKG = Path(__file__).resolve().parents[1] / "minfo"


def minfo_imports(path: Path) -> set[str]:
    "The minfo modules a source file imports (absolute or relative, anywhere in the file), as dotted names under minfo."
    tree = ast.parse(path.read_text())
    here = path.relative_to(PKG.parent).with_suffix("").parts  # ('minfo', 'harness', 'cache')
    package = here[:-1] if path.name != "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "minfo"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                mod = ".".join(base + ((node.module,) if node.module else ()))
            else:
                mod = node.module or ""
            if mod.split(".")[0] == "minfo":
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names}   # `from minfo import harness`
    return found


def library_files() -> list[Path]:
    return sorted(p for p in PKG.glob("*.py") if p.name != "_modidx.py")


def test_the_walker_sees_every_kind_of_import(tmp_path):
    pkg = tmp_path / "minfo"
    (pkg / "harness").mkdir(parents=True)
    src = ("import numpy\nfrom .harness import cache\nfrom . import harness\n"
           "def f():\n    from minfo.harness.ledger import Verdict\n    import minfo.harness.chapter\n")
    (pkg / "lib.py").write_text(src)
    global PKG
    saved, PKG = PKG, pkg
    try:
        found = minfo_imports(pkg / "lib.py")
    finally:
        PKG = saved
    assert {"minfo.harness", "minfo.harness.cache", "minfo.harness.ledger", "minfo.harness.chapter"} <= found


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.name)
def test_no_library_module_imports_the_harness(path):
    bad = sorted(m for m in minfo_imports(path) if m == "minfo.harness" or m.startswith("minfo.harness."))
    assert not bad, f"{path.name} (library) imports the harness: {bad}"


def test_the_harness_is_a_package_above_the_library():
    assert (PKG / "harness" / "__init__.py").exists() and not (PKG / "run.py").exists()
    uses = set().union(*(minfo_imports(p) for p in (PKG / "harness").glob("*.py")))
    assert "minfo.utils" in uses   # it stands on the library's utilities


def _copy_package(tmp_path) -> Path:
    dst = tmp_path / "minfo"
    shutil.copytree(PKG, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_editing_the_harness_changes_no_cache_key(tmp_path):
    pkg = _copy_package(tmp_path)
    before = {m: code_fingerprint(m, package_dir=pkg) for m in ("estimate", "vinfo", "tasks", "encoders")}
    whole = code_fingerprint(package_dir=pkg)
    for name in ("ledger.py", "records.py", "executors.py", "chapter.py"):
        (pkg / "harness" / name).write_text((pkg / "harness" / name).read_text() + "\nCHANGED = 1\n")
    assert {m: code_fingerprint(m, package_dir=pkg) for m in before} == before
    assert code_fingerprint(package_dir=pkg) == whole


def test_editing_a_library_module_changes_the_keys_that_use_it(tmp_path):
    pkg = _copy_package(tmp_path)
    fp = lambda m: code_fingerprint(m, package_dir=pkg)
    before = {m: fp(m) for m in ("gaussians", "estimate", "critics", "vinfo", "info")}
    whole = code_fingerprint(package_dir=pkg)
    src = (pkg / "critics.py").read_text()
    (pkg / "critics.py").write_text(src + "\n# a comment only\n")            # a comment changes no key
    assert {m: fp(m) for m in before} == before
    (pkg / "critics.py").write_text(src + "\nCHANGED = 1\n")                # code does: the modules that import critics
    after = {m: fp(m) for m in before}
    assert after["critics"] != before["critics"] and after["estimate"] != before["estimate"]   # estimate imports critics
    assert after["gaussians"] == before["gaussians"] and after["info"] == before["info"]       # they do not
    assert code_fingerprint(package_dir=pkg) != whole


def test_cache_path_follows_the_fingerprint(tmp_path):
    a = cache_path("ch", "exp", {"n": 1}, tmp_path, code="gaussians")
    assert a == cache_path("ch", "exp", {"n": 1}, tmp_path, code=["minfo.gaussians"])
    assert a != cache_path("ch", "exp", {"n": 1}, tmp_path, code="estimate")
