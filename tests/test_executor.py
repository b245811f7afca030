"""The executors of `minfo.harness.run_cached_jobs` on a real local Ray instance (2 CPUs): chapter 8's smoke benchmark
(`minfo.tasks.benchmark` with the runner the chapter passes) gives the same rows through Ray as locally, a job whose
worker is killed mid-job is run again and stored, cached jobs never reach Ray, and a job's own error comes back as
itself."""
import math
import sys
import time

import pytest
import ray
import torch

from minfo import harness as H
from minfo import tasks as T
from minfo.estimate import MIEstimator
from minfo.harness import executors

# chapter 8's smoke profile (nbs/08_benchmark.ipynb): its tasks and the estimators it builds from them
SMOKE_TASKS = ["1v1-normal-0.75", "1v1-additive-0.1", "highmi-normal-5-5-10", "highmi-normal-5-5-30",
               "discrete-channel-4-0.1", "mixed-gauss-4-4-3"]
BUDGET = dict(hidden=(16, 8), batch_size=32, steps=40, lr=1e-2, val_fraction=0.5, eval_every=8, n_bootstrap=0,
              keep_critic=False, device="cpu", progress=False)
NEURAL = ["nwj", "mine", "dv", "js", "smile", "infonce"]
SLUG = "benchmark"


def chapter8_estimators() -> dict:
    est = {b: MIEstimator(b, negatives="all" if b == "infonce" else "shuffle", **BUDGET) for b in NEURAL}
    est["cca"] = T.cca_mi
    est["ksg"] = lambda x, y, k=5: T.ksg_mi(x, y, k=k)
    est["ksg"].config = dict(k=5)
    return est


def chapter8_runner(folder, executor):
    "The runner the chapter passes (`ch.run` of `ch.job`s): every job through the harness's cache, here or on Ray"
    return lambda jobs: H.run_cached_jobs(SLUG, [H.Job(j.name, j.config, j.compute, num_cpus=1) for j in jobs],
                                          executor=executor, results_dir=folder, code=T.CODE, device="cpu")


def chapter8_benchmark(folder, executor):
    checkpoint = lambda name, config: H.checkpoint_for(SLUG, name, config, folder, every=10, code=T.CODE)  # noqa: E731
    return T.benchmark(chapter8_estimators(), [T.get_task(t) for t in SMOKE_TASKS], (0,), 400,
                       runner=chapter8_runner(folder, executor), checkpoint=checkpoint)


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
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the chapter at smoke, and as each Ray job (num_cpus=1)
    try:
        t0 = time.perf_counter()
        local = chapter8_benchmark(tmp_path / "local", "local")
        t1 = time.perf_counter()
    finally:
        torch.set_num_threads(threads)
    n = len(H.CACHE_LOG)
    on_ray = chapter8_benchmark(tmp_path / "ray", "ray")
    t2 = time.perf_counter()
    print(f"ch8 smoke benchmark: local {t1 - t0:.1f} s, ray (instance up) {t2 - t1:.1f} s")
    assert len(local) == len(SMOKE_TASKS) * 8
    assert _plain(on_ray) == _plain(local)
    assert sum(r["error"] is None for r in local) >= len(local) // 2      # not a comparison of failures only
    # the worker-computed jobs count as computed by this run, not as cache reads
    models = [e for e in H.CACHE_LOG[n:] if e[1] == "group"]
    assert models and all(not e[3] for e in models)
    # every (task, estimator, seed) is its own cache entry, on Ray as here
    entries = lambda folder: sorted(p.name for p in (folder / SLUG).glob("*.pkl") if not p.name.startswith("group-"))  # noqa: E731
    assert len(entries(tmp_path / "ray")) == len(local) and entries(tmp_path / "ray") == entries(tmp_path / "local")
    # a second call finds everything cached: nothing reaches Ray, and the rows are the same
    monkeypatch.setattr(executors, "_run_on_ray", lambda *a, **k: pytest.fail("a cached job was sent to Ray"))
    again = chapter8_benchmark(tmp_path / "ray", "ray")
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

    job = H.Job("killed", {"k": 1}, compute)
    n = len(H.CACHE_LOG)
    out = H.run_cached_jobs("exec_test", [job], executor="ray", results_dir=tmp_path / "ray", code="utils", max_retries=2)[0]
    assert marker.exists() and out["pid"] != int(marker.read_text())  # another worker process ran it again
    torch.manual_seed(0)
    assert out["values"] == torch.randn(5).tolist()                    # the result a clean run gives
    assert [(e[1], e[3]) for e in H.CACHE_LOG[n:]] == [("killed", False)]
    stored = H.cached("exec_test", "killed", {"k": 1}, lambda: pytest.fail("not stored"), results_dir=tmp_path / "ray", code="utils")
    assert stored == out
    # cached: the job never reaches Ray again (it would kill its worker every time now)
    dies = H.Job("killed", {"k": 1}, lambda: __import__("os")._exit(1))
    assert H.run_cached_jobs("exec_test", [dies], executor="ray", results_dir=tmp_path / "ray", code="utils") == [out]


def test_killed_worker_inside_the_benchmark_is_rerun(tmp_path, ray_local):
    "A benchmark job (one entry, through the chapter's runner) whose worker dies is run again: the row is a clean run's"
    marker = tmp_path / "first-attempt"

    def dies_once(x, y, marker=str(marker)):
        import os
        import pathlib
        if not pathlib.Path(marker).exists():
            pathlib.Path(marker).write_text(str(os.getpid()))
            os._exit(1)
        return T.cca_mi(x, y)
    rows = T.benchmark({"cca": dies_once}, [T.binormal()], (0,), 300, runner=chapter8_runner(tmp_path, "ray"))
    assert marker.exists() and rows[0]["error"] is None
    assert rows[0]["estimate"] == pytest.approx(T.cca_mi(*T.draw(T.binormal(), 0, 300)), abs=1e-12)


def test_worker_that_always_dies_fails_clearly(tmp_path, ray_local):
    dies = H.Job("dies", {"k": 2}, lambda: __import__("os")._exit(1))
    with pytest.raises(RuntimeError, match=r"did not finish on Ray \(max_retries=0\)"):
        H.run_cached_jobs("exec_test", [dies], executor="ray", results_dir=tmp_path, code="utils", max_retries=0)
    assert not H.cache_path("exec_test", "dies", {"k": 2}, tmp_path, code="utils").exists()


def test_job_errors_come_back_as_themselves(tmp_path, ray_local):
    def bad():
        raise ValueError("bad input for this job")
    jobs = [H.Job("bad", {}, bad), H.Job("good", {}, lambda: 7)]
    out = H.run_cached_jobs("exec_test", jobs, executor="ray", results_dir=tmp_path, code="utils", errors="return")
    assert isinstance(out[0], ValueError) and "bad input" in str(out[0]) and out[1] == 7
    with pytest.raises(ValueError, match="bad input"):
        H.run_cached_jobs("exec_test", jobs, executor="ray", results_dir=tmp_path, code="utils")


def test_ray_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(ImportError, match=r'pip install "minfo-lab\[ray\]"'):
        H.run_cached_jobs("exec_test", [H.Job("x", {}, lambda: 1)], executor="ray", force=True)
