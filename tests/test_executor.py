"""The executors of `minfo.run.run_cached_jobs` on a real local Ray instance (2 CPUs): chapter 8's smoke jobs give the
same results through Ray as locally, a job whose worker is killed mid-job is run again and stored, cached jobs never
reach Ray, and a job's own error comes back as itself."""
import math
import sys
import time

import pytest
import ray
import torch

from minfo import run as R
from minfo import tasks as T
from minfo.estimate import MIEstimator

# chapter 8's smoke profile (nbs/08_benchmark.ipynb): its tasks and the estimators it builds from them
SMOKE_TASKS = ["1v1-normal-0.75", "1v1-additive-0.1", "highmi-normal-5-5-10", "highmi-normal-5-5-30",
               "discrete-channel-4-0.1", "mixed-gauss-4-4-3"]
BUDGET = dict(hidden=(16, 8), batch_size=32, steps=40, lr=1e-2, val_fraction=0.5, eval_every=8, n_bootstrap=0,
              keep_critic=False, device="cpu", progress=False)
NEURAL = ["nwj", "mine", "dv", "js", "smile", "infonce"]


def chapter8_estimators() -> dict:
    est = {b: MIEstimator(b, negatives="all" if b == "infonce" else "shuffle", **BUDGET) for b in NEURAL}
    est["cca"] = T.cca_mi
    est["ksg"] = lambda x, y, k=5: T.ksg_mi(x, y, k=k)
    est["ksg"].config = dict(k=5)
    return est


@pytest.fixture(scope="module")
def ray_local():
    t0 = time.perf_counter()
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    print(f"\nray startup: {time.perf_counter() - t0:.1f} s")
    yield ray
    ray.shutdown()


def _plain(rows):
    "Rows without their timings, nan made comparable."
    return [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items() if k != "seconds"} for r in rows]


def test_chapter8_smoke_same_on_ray_and_locally(tmp_path, ray_local, monkeypatch):
    tasks = [T.get_task(t) for t in SMOKE_TASKS]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the chapter at smoke, and as each Ray job (job_cpus=1)
    try:
        t0 = time.perf_counter()
        local = T.benchmark(chapter8_estimators(), tasks, (0,), 400, results_dir=tmp_path / "local", cache_name="08_benchmark",
                            checkpoint_every=10, progress_bar=False)
        t1 = time.perf_counter()
    finally:
        torch.set_num_threads(threads)
    n = len(R.CACHE_LOG)
    on_ray = T.benchmark(chapter8_estimators(), tasks, (0,), 400, results_dir=tmp_path / "ray", cache_name="08_benchmark",
                         checkpoint_every=10, progress_bar=False, executor="ray", job_cpus=1)
    t2 = time.perf_counter()
    print(f"ch8 smoke benchmark: local {t1 - t0:.1f} s, ray (instance up) {t2 - t1:.1f} s")
    assert len(local) == len(SMOKE_TASKS) * 8
    assert _plain(on_ray) == _plain(local)
    assert sum(r["error"] is None for r in local) >= len(local) // 2      # not a comparison of failures only
    # the worker-computed jobs count as computed by this run, not as cache reads
    assert [e for e in R.CACHE_LOG[n:] if e[1] == "group"] and all(not e[3] for e in R.CACHE_LOG[n:] if e[1] == "group")
    # a second call finds everything cached: nothing reaches Ray, and the rows are the same
    monkeypatch.setattr(R, "_run_on_ray", lambda *a, **k: pytest.fail("a cached job was sent to Ray"))
    again = T.benchmark(chapter8_estimators(), tasks, (0,), 400, results_dir=tmp_path / "ray", cache_name="08_benchmark",
                        progress_bar=False, executor="ray")
    assert _plain(again) == _plain(local)


def test_killed_worker_is_rerun(tmp_path, ray_local):
    marker = tmp_path / "first-attempt"

    def compute(marker=str(marker)):
        import os
        import pathlib
        import torch
        if not pathlib.Path(marker).exists():  # first attempt: the worker process dies in the middle of the job
            pathlib.Path(marker).write_text(str(os.getpid()))
            os._exit(1)
        torch.manual_seed(0)
        return {"values": torch.randn(5).tolist(), "pid": os.getpid()}

    job = R.Job("killed", {"k": 1}, compute)
    n = len(R.CACHE_LOG)
    out = R.run_cached_jobs("exec_test", [job], executor="ray", results_dir=tmp_path / "ray", code="run", max_retries=2)[0]
    assert marker.exists() and out["pid"] != int(marker.read_text())  # another worker process ran it again
    torch.manual_seed(0)
    assert out["values"] == torch.randn(5).tolist()                    # the result a clean run gives
    assert [(e[1], e[3]) for e in R.CACHE_LOG[n:]] == [("killed", False)]
    stored = R.cached("exec_test", "killed", {"k": 1}, lambda: pytest.fail("not stored"), results_dir=tmp_path / "ray", code="run")
    assert stored == out
    # cached: the job never reaches Ray again (it would kill its worker every time now)
    dies = R.Job("killed", {"k": 1}, lambda: __import__("os")._exit(1))
    assert R.run_cached_jobs("exec_test", [dies], executor="ray", results_dir=tmp_path / "ray", code="run") == [out]


def test_worker_that_always_dies_fails_clearly(tmp_path, ray_local):
    dies = R.Job("dies", {"k": 2}, lambda: __import__("os")._exit(1))
    with pytest.raises(RuntimeError, match=r"did not finish on Ray \(max_retries=0\)"):
        R.run_cached_jobs("exec_test", [dies], executor="ray", results_dir=tmp_path, code="run", max_retries=0)
    assert not R.cache_path("exec_test", "dies", {"k": 2}, tmp_path, code="run").exists()


def test_job_errors_come_back_as_themselves(tmp_path, ray_local):
    def bad():
        raise ValueError("bad input for this job")
    jobs = [R.Job("bad", {}, bad), R.Job("good", {}, lambda: 7)]
    out = R.run_cached_jobs("exec_test", jobs, executor="ray", results_dir=tmp_path, code="run", errors="return")
    assert isinstance(out[0], ValueError) and "bad input" in str(out[0]) and out[1] == 7
    with pytest.raises(ValueError, match="bad input"):
        R.run_cached_jobs("exec_test", jobs, executor="ray", results_dir=tmp_path, code="run")


def test_ray_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(ImportError, match=r'pip install "minfo-lab\[ray\]"'):
        R.run_cached_jobs("exec_test", [R.Job("x", {}, lambda: 1)], executor="ray", force=True)
