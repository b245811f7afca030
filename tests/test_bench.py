"""The benchmarks in bench/ run end to end at a tiny size and write the numbers they promise.

Only that they work is tested here (a bench that cannot run on the next lent GPU is lost time): the ratios they
measure depend on the machine and its load, and no timing is asserted.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "critic_sweep": (["--k", "2", "--steps", "2", "--repeats", "1", "--hidden", "16,16", "--batch", "32", "--bf16"],
                     ["ratio", "ratio_lo", "ratio_hi", "single_ratio", "single_floor_ratio", "ratio_bf16", "ceiling_gflops"]),
    "chunked_scores": (["--n", "16,48", "--hidden", "8,8", "--chunk-rows", "256", "--unchunked-max", "48", "--steps", "1"],
                       ["rows"]),
    "encoder_train": (["--models", "lenet5", "--images", "64", "--batch", "32", "--repeats", "1"], None),
    "high_mi_gpu": (["--device", "cpu", "--steps", "40", "--levels", "2.5,30", "--fig2b-n", "32", "--hidden", "8,8",
                     "--n-mine", "32", "--n-nwj", "32"], ["rows", "gflop", "work"]),
    "past_log_n": (["--n", "400", "--dim", "3", "--levels", "1,5", "--epochs", "1", "--steps", "5", "--batch", "32", "--hidden", "8",
                    "--critic-hidden", "8"], ["rows"]),
    "profile_step": (["--k", "1,2", "--steps", "2", "--repeats", "1", "--hidden", "16,16", "--batch", "32", "--top", "3"], None),
    "bf16_study": (["--seeds", "2", "--steps", "4", "--batch", "16", "--hidden", "8,8", "--levels", "2"], ["rows", "verdict"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bench_runs_at_a_tiny_size(name, tmp_path):
    args, keys = CASES[name]
    out = tmp_path / "out.json"
    cmd = [sys.executable, str(ROOT / "bench" / f"{name}.py"), *args] + (["--json", str(out)] if keys else [])
    env = {**os.environ, "MINFO_PROGRESS": "0", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip(), "the bench printed nothing"
    if keys:
        data = json.loads(out.read_text())
        missing = [k for k in keys if k not in data]
        assert not missing, f"{name} wrote no {missing}"


def test_chunked_scores_reports_blocks(tmp_path):
    "The chunked run of N = 48 really is chunked (256-row blocks of a 2,304-row matrix), the unchunked one is not"
    out = tmp_path / "c.json"
    args, _ = CASES["chunked_scores"]
    subprocess.run([sys.executable, str(ROOT / "bench" / "chunked_scores.py"), *args, "--json", str(out)], check=True,
                   capture_output=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
    rows = {(r["n"], r["mode"]): r for r in json.loads(out.read_text())["rows"]}
    assert rows[(48, "chunked")]["blocks"] == 10 and rows[(48, "unchunked")]["blocks"] == 1
    assert rows[(16, "chunked")]["blocks"] == 1


def test_paper_cost_reads_run_records(tmp_path):
    "paper_cost.py extrapolates from the run records in a results folder; an empty folder is a clear error"
    from minfo.harness import start_run
    rec = start_run("demo", "cpu", "cpu")
    rec.add_work("critic steps", 100, 2.0, flops=4e11)
    rec.add_paper_work("critic steps", 10_000, 8e14)
    rec.finish(results_dir=tmp_path)
    out = tmp_path / "cost.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "paper_cost.py"), "--results", str(tmp_path), "--json", str(out)],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "3.3 min to 66.7 min (extrapolated)" in res.stdout, res.stdout
    (c,) = json.loads(out.read_text())["chapters"]
    assert (c["low"], c["high"]) == (200.0, 4000.0)
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "paper_cost.py"), "--results", str(tmp_path / "none")],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert res.returncode != 0 and "no run records" in res.stderr


def test_critic_sweep_runs_once_per_kernel_set(tmp_path):
    "--kernels runs the bench in a fresh process per CPU kernel set and tables them (AVX2 exists on every x86 CPU torch runs on)"
    out = tmp_path / "k.json"
    cmd = [sys.executable, str(ROOT / "bench" / "critic_sweep.py"), "--kernels", "default,avx2", "--k", "2", "--steps", "2",
           "--repeats", "1", "--hidden", "8,8", "--batch", "16", "--json", str(out)]
    env = {**os.environ, "MINFO_PROGRESS": "0", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [r["kernels"] for r in rows] == ["default", "avx2"] and rows[1]["cpu_capability"] == "AVX2", rows
    assert all({"ratio", "single_ratio", "single_floor_ratio", "load_avg", "threads"} <= set(r) for r in rows)


@pytest.mark.parametrize("activation", ["relu", "elu"])
@pytest.mark.parametrize("hidden, N", [((24, 16), 40), ((64, 256, 256), 256)])  # 2N x 256 x 256 = 2^25: oneDNN where it is on
def test_eager_floor_is_the_plain_loops_maths(activation, hidden, N):
    "The eager floor's hand-written step gives autograd's gradient of the plain loop's NWJ loss on the same batch"
    import torch
    sys.path.insert(0, str(ROOT / "bench"))
    from profile_step import floor_setup
    step = floor_setup(hidden, N, activation, seed=3)
    state = step.generator.get_state()
    step.grad()
    step.generator.set_state(state)
    x, y = step.source.sample(N, generator=step.generator)
    perm = torch.randperm(N, generator=step.generator)
    q = step.flat.detach().clone().requires_grad_()
    W, b = step.layers
    views, o = [], 0
    for w, c in zip(W, b):  # the same layout, now on a leaf autograd can differentiate
        views.append((q[o:o + w.numel()].view(w.shape), q[o + w.numel():o + w.numel() + c.numel()])); o += w.numel() + c.numel()
    act = torch.relu if activation == "relu" else torch.nn.functional.elu

    def net(z):
        for w, c in views[:-1]: z = act(z @ w + c)
        return (z @ views[-1][0] + views[-1][1]).squeeze(1)
    loss = -(net(torch.cat([x, y], 1)).mean() - torch.exp(net(torch.cat([x, y[perm]], 1)) - 1).mean())
    loss.backward()
    atol = max(1e-6, 1e-5 * float(q.grad.abs().max()))  # float error; oneDNN and MKL sum in different orders
    assert torch.allclose(step.flat.grad, q.grad, rtol=1e-5, atol=atol), (step.flat.grad - q.grad).abs().max()
    assert q.grad.abs().max() > 1e-3  # a gradient that is there, not two zeros
