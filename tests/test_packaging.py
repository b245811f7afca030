"`pip wheel .` makes a wheel with the library and no notebooks, and it imports in a fresh environment."
import subprocess
import sys
import sysconfig
import zipfile

from conftest import ROOT


def test_wheel_installs_and_imports(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, cwd=tmp_path)
    wheel, = (tmp_path / "dist").glob("minfo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "minfo/run.py" in names and "minfo/__init__.py" in names
    assert not [n for n in names if n.endswith(".ipynb") or n.startswith(("nbs/", "tests/"))], names

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the fresh environment sees the existing torch & co. (a .pth line), not the editable checkout of minfo
    (tmp_path / "fresh_site.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (tmp_path / "fresh_site.pth").rename(f"{site}/zz_existing_packages.pth")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    probe = ("import minfo, minfo.run, minfo.plots; print(minfo.__file__); "
             "minfo.run.resolve_config({'smoke': {'a': 1}}, 'smoke')")
    out = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert str(venv) in out, f"minfo was not imported from the installed wheel: {out}"
