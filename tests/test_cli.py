"The command lines a reader uses: `python -m minfo.book` and `make run` reject bad input with a clear message."
import subprocess
import sys

from conftest import ROOT


def test_book_cli_rejects_an_unknown_profile():
    res = subprocess.run([sys.executable, "-m", "minfo.book", "--profile", "huge"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0 and "invalid choice: 'huge'" in res.stderr


def test_book_cli_rejects_a_missing_device():
    import torch
    if torch.cuda.is_available():
        return
    res = subprocess.run([sys.executable, "-m", "minfo.book", "--profile", "smoke", "--device", "cuda", "--no-html"],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0 and "CUDA is not available" in res.stderr


def test_make_run_names_a_missing_chapter():
    res = subprocess.run(["make", "-s", "run", "CH=99"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0 and "no chapter nbs/99_*.ipynb" in res.stdout + res.stderr
