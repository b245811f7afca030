"The command lines a reader uses: `python -m minfo.harness.book` and `make run` reject bad input with a clear message."
import subprocess
import sys

from conftest import ROOT


def test_book_cli_rejects_an_unknown_profile():
    res = subprocess.run([sys.executable, "-m", "minfo.harness.book", "--profile", "huge"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0 and "invalid choice: 'huge'" in res.stderr


def test_book_cli_rejects_a_missing_device():
    import torch
    if torch.cuda.is_available():
        return
    res = subprocess.run([sys.executable, "-m", "minfo.harness.book", "--profile", "smoke", "--device", "cuda", "--no-html"],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0 and "CUDA is not available" in res.stderr


def test_make_run_names_a_missing_chapter():
    res = subprocess.run(["make", "-s", "run", "CH=99"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0 and "no chapter nbs/99_*.ipynb" in res.stdout + res.stderr


# ---- the `minfo` command line (minfo.cli): tiny data, a few steps; `python -m minfo` is the console script's code
import json

import numpy as np
import pytest


def _minfo(*args, cwd):
    return subprocess.run([sys.executable, "-m", "minfo", *map(str, args)], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 2))
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", x[:, :1] + 0.5 * rng.standard_normal((300, 1)))
    labels = np.where(x[:, 0] > 0, "pos", "neg")
    np.savez(d / "data.npz", features=x, labels=labels)
    (d / "labels.csv").write_text("label\n" + "\n".join(labels) + "\n")
    np.save(d / "short.npy", x[:10])
    np.save(d / "nan.npy", np.where(np.arange(300)[:, None] == 3, np.nan, x))
    (d / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    return d


FAST = ["--steps", "20", "--batch-size", "64", "--hidden", "16", "--device", "cpu"]


def test_estimate_prints_value_stderr_and_flags(files):
    res = _minfo("estimate", "x.npy", "y.npy", *FAST, cwd=files)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("I(X;Y) = ") and " ± " in lines[0] and lines[1].startswith("flags: "), res.stdout


def test_estimate_json_with_npz_keys_and_string_labels(files):
    for args in (["data.npz:features", "data.npz:labels"], ["data.npz", "data.npz", "--x-key", "features", "--y-key", "labels"]):
        res = _minfo("estimate", *args, *FAST, "--json", cwd=files)
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)
        assert out["command"] == "estimate" and out["rows"] == 300 and out["unit"] == "nats"
        assert np.isfinite(out["value"]) and out["stderr"] >= 0
        assert {"diverged", "near_log_n"} <= set(out["flags"]) and out["settings"]["hidden"] == [16]


def test_vinfo_with_csv_labels(files):
    res = _minfo("vinfo", "x.npy", "labels.csv", "--family", "linear", "--target", "categorical", "--device", "cpu",
                 "--json", cwd=files)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["command"] == "vinfo" and 0 < out["value"] <= out["h_marginal"] + 1e-6 and 0 < out["normalized"] <= 1 + 1e-6


@pytest.mark.parametrize("args, message", [
    (["estimate", "missing.npy", "y.npy"], "missing.npy: no such file"),
    (["estimate", "broken.npy", "y.npy"], "broken.npy: cannot read it as npy"),
    (["estimate", "x.npy", "short.npy"], "x has 300 rows but y has 10"),
    (["estimate", "nan.npy", "y.npy"], "nan.npy: 2 NaN or infinite values"),
    (["estimate", "data.npz", "y.npy"], "holds the arrays ['features', 'labels']"),
    (["vinfo", "x.npy", "data.npz:nokey"], "has no array 'nokey'"),
    (["estimate", "x.npy", "y.npy", "--steps", "0", "--device", "cpu"], "steps"),
    (["estimate", "x.npy", "y.npy", "--hidden", "a,b"], "comma-separated layer sizes"),
    (["estimate", "x.npy"], "the following arguments are required: y"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_line_and_exit_code_2(files, args, message):
    res = _minfo(*args, cwd=files)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert message in res.stderr and "Traceback" not in res.stderr, res.stderr
    errors = [l for l in res.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1, res.stderr


def test_book_kernels_run_without_the_tcp_warning(tmp_path):
    "Chapters execute over IPC (minfo.harness.book.kernel_config): the kernel's 'TCP without encryption' warning is gone."
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    run = ("import sys, papermill as pm\n"
           "from traitlets.config import Config\n"
           "from minfo.harness.book import execute_chapter\n"
           "if sys.argv[1] == 'tcp':  # the control: papermill's default transport\n"
           "    pm.execute_notebook('tiny.ipynb', 'tcp.ipynb', kernel_name='python3', progress_bar=False,\n"
           "                        config=Config({'KernelManager': {'transport': 'tcp'}}))\n"
           "else:\n"
           "    assert execute_chapter('tiny.ipynb', 'out/tiny.ipynb', {}, lib_dir='.')\n")
    logs = {t: subprocess.run([sys.executable, "-c", run, t], cwd=tmp_path, capture_output=True, text=True) for t in ("tcp", "ipc")}
    assert all(r.returncode == 0 for r in logs.values()), {t: r.stderr[-2000:] for t, r in logs.items()}
    assert "without encryption" in logs["tcp"].stderr  # the warning is real and this test would see it
    assert "without encryption" not in logs["ipc"].stderr + logs["ipc"].stdout, logs["ipc"].stderr
    assert nbformat.read(tmp_path / "out" / "tiny.ipynb", as_version=4).cells[0].outputs[0]["text"] == "42\n"
    assert not [p for p in tmp_path.rglob("*") if p.is_socket()]  # no socket files left beside the notebooks
