"""minfo.tasks from a user's side: samplers as estimator sources, the benchmark with user functions and minfo
estimators (in-process by default; through a caching runner of the harness: resume after an interruption, the same
compute time read back), failures recorded, batched == one by one on labels too, bad input; the library never
imports the harness."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from minfo import tasks as T
from minfo.estimate import MIEstimator, estimate_mi
from minfo.harness import Job, checkpoint_for, run_cached_jobs, start_run

TINY = dict(steps=20, batch_size=32, hidden=(8,), lr=1e-2, n_bootstrap=0, keep_critic=False, device="cpu",
            progress=False)


def cached_runner(folder, chapter="tasks"):
    "What a chapter passes as `runner`: each job through the harness's cache (keyed by name, config and `T.CODE`)"
    return lambda jobs: run_cached_jobs(chapter, [Job(j.name, j.config, j.compute) for j in jobs], results_dir=folder,
                                        code=T.CODE)


def test_the_library_never_imports_the_harness():
    code = "import sys, minfo.tasks, minfo.estimate; assert not [m for m in sys.modules if m.startswith('minfo.harness')]"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("task_id", ["1v1-normal-0.75", "student-identity-2-2-1", "spiral-multinormal-sparse-3-3-2-2.0",
                                     "discrete-channel-4-0.1", "mixed-gauss-4-4-3", "highmi-normal-5-5-30"])
def test_a_task_is_a_sampler_for_the_engine(task_id):
    task = T.get_task(task_id)
    res = estimate_mi(task, bound="nwj", **TINY)
    assert res.true_mi == pytest.approx(task.mi) and math.isfinite(res.value)


def test_samples_are_reproducible_and_independent_across_seeds():
    task = T.get_task("asinh-student-identity-3-3-2")
    a, b, c = T.draw(task, 0, 50), T.draw(task, 0, 50), T.draw(task, 1, 50)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])


def test_benchmark_resumes_after_an_interruption(tmp_path):
    calls = []

    def counted(x, y):
        calls.append(1)
        return T.cca_mi(x, y)

    tasks = [T.binormal(), T.multinormal_dense(2, 2)]
    first = T.benchmark({"cca": counted}, tasks[:1], seeds=(0, 1), n_samples=300,
                        runner=cached_runner(tmp_path))   # as if a run had stopped after its first task
    assert len(calls) == 2
    rows = T.benchmark({"cca": counted}, tasks, seeds=(0, 1), n_samples=300, runner=cached_runner(tmp_path))
    assert len(calls) == 4                                       # only the missing task ran
    assert [r["estimate"] for r in rows[:2]] == [r["estimate"] for r in first]
    assert {r["task"] for r in rows} == {t.id for t in tasks} and all(r["error"] is None for r in rows)


def test_without_a_runner_everything_is_computed_here_and_nothing_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("MINFO_RESULTS", str(tmp_path))
    calls = []

    def counted(x, y):
        calls.append(1)
        return T.cca_mi(x, y)
    est = {"cca": counted, "nwj": MIEstimator("nwj", **TINY)}
    a = T.benchmark(est, [T.binormal()], seeds=(0,), n_samples=200, progress_bar=False)
    b = T.benchmark(est, [T.binormal()], seeds=(0,), n_samples=200, progress_bar=False)
    assert len(calls) == 2 and [r["estimate"] for r in a] == [r["estimate"] for r in b]
    assert not any(tmp_path.iterdir())                              # the library wrote nothing


def test_jobs_are_named_and_configured_as_the_entries_they_store(tmp_path):
    est = {"nwj": MIEstimator("nwj", **TINY), "dv": MIEstimator("dv", **TINY), "cca": T.cca_mi}
    seen = []

    def runner(jobs):
        seen.append([(j.name, j.config) for j in jobs])
        return [j.compute() for j in jobs]
    T.benchmark(est, [T.binormal()], seeds=(4,), n_samples=200, runner=runner)
    models, alone, members = seen[0][:1], seen[0][1:], seen[1]
    assert models[0][0] == "group" and [m[1] for m in models[0][1]["members"]] == ["nwj", "dv"]
    assert [n for n, _ in alone] == ["1v1-normal-0.75-cca"] and [n for n, _ in members] == ["1v1-normal-0.75-nwj", "1v1-normal-0.75-dv"]
    cfg = members[0][1]   # the same config as the entry had before the library lost its cache
    assert cfg == dict(task=dict(id="1v1-normal-0.75", mi=round(T.binormal().mi, 10), dim_x=1, dim_y=1), estimator="nwj",
                       settings={k: (list(v) if isinstance(v, tuple) else v) for k, v in est["nwj"].settings.as_dict().items()
                                 if k != "progress"}, seed=4, n_samples=200)


def test_checkpoint_factory_gets_the_model_and_is_cleared(tmp_path):
    made = []

    def factory(name, config):
        ck = checkpoint_for("tasks", name, config, tmp_path, every=5, code=T.CODE)
        made.append((name, ck))
        return ck
    est = {"nwj": MIEstimator("nwj", **TINY), "js": MIEstimator("js", **TINY)}
    plain = T.benchmark(est, [T.binormal()], n_samples=200)
    rows = T.benchmark(est, [T.binormal()], n_samples=200, checkpoint=factory)
    assert [n for n, _ in made] == ["group"] and not made[0][1].path.exists()   # one model, its checkpoint cleared
    assert [r["estimate"] for r in rows] == pytest.approx([r["estimate"] for r in plain], abs=1e-5)


def test_batched_minfo_estimators_match_one_by_one_on_labels(tmp_path):
    est = {"nwj": MIEstimator("nwj", **TINY), "js": MIEstimator("js", **TINY),
           "infonce": MIEstimator("infonce", negatives="all", **TINY)}
    tasks = [T.noisy_channel(4, 0.1), T.LabelMixture(4, 4, 3.0, mc_samples=2000)]   # one-hot widths 4 × 4 both
    rows = T.benchmark(est, tasks, seeds=(3,), n_samples=200, progress_bar=False)
    by = {(r["task"], r["estimator"]): r for r in rows}
    assert by[(tasks[0].id, "nwj")]["batched"] == 4                  # 2 tasks x (nwj, js) in one model
    assert by[(tasks[0].id, "infonce")]["batched"] == 2             # InfoNCE apart
    for t in tasks:
        x, y = T.draw(t, 3, 200)
        for name, e in est.items():
            one = e.estimate(x, y, seed=3)
            assert by[(t.id, name)]["estimate"] == pytest.approx(float(one), abs=1e-4)
        assert by[(t.id, "js")]["plugin"] == pytest.approx(float(est["js"].estimate(x, y, seed=3).plugin), abs=1e-4)
        assert by[(t.id, "infonce")]["estimate"] <= math.log(32) + 1e-6


def test_failures_are_rows_not_exceptions(tmp_path):
    def broken(x, y):
        raise ValueError("cannot do this one")
    rows = T.benchmark({"broken": broken, "ksg": T.ksg_mi, "inf": lambda x, y: math.inf},
                       [T.noisy_channel(4, 0.1)], n_samples=100, progress_bar=False)
    assert "cannot do this one" in rows[0]["error"] and "class label" in rows[1]["error"]
    assert rows[2]["error"] == "non-finite estimate" and all(math.isnan(r["estimate"]) or math.isinf(r["estimate"]) for r in rows)
    s = T.summarize(rows)
    assert all(x["failed"] == 1 and x["n"] == 0 for x in s)


def test_user_function_gets_numpy_and_seed(tmp_path):
    seen = []

    def fn(x, y, seed):
        seen.append((type(x), type(y), seed))
        return 0.5
    rows = T.benchmark({"f": fn}, [T.binormal()], seeds=(7,), n_samples=50, progress_bar=False)
    assert seen == [(np.ndarray, np.ndarray, 7)] and rows[0]["estimate"] == 0.5


@pytest.mark.parametrize("call, match", [
    (lambda: T.binormal(1.5), "rho"),
    (lambda: T.multinormal_dense(0, 2), "dim_x"),
    (lambda: T.multinormal_sparse(2, 2, n_interacting=3), "n_interacting"),
    (lambda: T.student_identity(2, 2, 0), "df"),
    (lambda: T.AdditiveUniform(-1.0), "epsilon"),
    (lambda: T.SplitGaussian(np.eye(3), 0), "dim_x"),
    (lambda: T.SplitGaussian(np.ones((3, 3)), 1), "positive definite"),
    (lambda: T.spiral(T.binormal()), "at least 2"),
    (lambda: T.spiral(T.multinormal_sparse(3, 2)), "at least 3 in y"),
    (lambda: T.transform(T.noisy_channel(3, 0.1), "asinh"), "class labels"),
    (lambda: T.transform(T.binormal(), "cube"), "unknown transform"),
    (lambda: T.noisy_channel(1, 0.1), "k"),
    (lambda: T.DiscreteTask([[0.2, 0.2]], "x"), "summing to 1"),
    (lambda: T.LabelMixture(4, 2, 1.0), "at most dim"),
    (lambda: T.binormal().sample(-3), "positive integer"),
    (lambda: T.binormal().sample(3, generator=np.random.default_rng()), "torch.Generator"),
    (lambda: T.cca_mi(np.zeros((5, 2)), np.zeros((5, 2)), ridge=-1.0), "ridge"),
    (lambda: T.cca_mi(np.full((5, 2), np.nan), np.zeros((5, 2))), "non-finite"),
    (lambda: T.ksg_mi(np.random.rand(5, 1), np.random.rand(5, 1), k=5), "more than k"),
    (lambda: T.get_task("no-such-task"), "unknown task id"),
    (lambda: T.benchmark({"c": T.cca_mi}, [T.binormal()], seeds=()), "seeds"),
    (lambda: T.benchmark({"c": T.cca_mi}, [T.binormal()], seeds=(-1,)), "seed"),
    (lambda: T.benchmark({"c": T.cca_mi}, [T.binormal()], n_samples=0), "n_samples"),
    (lambda: T.benchmark({"a/b": T.cca_mi}, [T.binormal()]), "without '/'"),
    (lambda: T.benchmark([T.cca_mi], [T.binormal()]), "dict"),
    (lambda: T.benchmark({"c": T.cca_mi}, []), "non-empty list"),
    (lambda: T.benchmark({"c": T.cca_mi}, [T.binormal()], runner=3), "runner must be"),
    (lambda: T.benchmark({"c": T.cca_mi}, [T.binormal()], runner=lambda jobs: None), "runner must return"),
    (lambda: T.benchmark({"c": T.cca_mi}, [T.binormal()], checkpoint="yes"), "checkpoint must be"),
])
def test_bad_input_names_the_problem(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_ksg_without_scipy_says_how_to_install(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_scipy(name, *a, **k):
        if name.startswith("scipy"): raise ImportError("no scipy")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match="pip install scipy"):
        T.ksg_mi(np.random.rand(20, 1), np.random.rand(20, 1))


def test_a_run_killed_after_a_model_finished_trains_nothing_again(tmp_path, monkeypatch):
    est = {"nwj": MIEstimator("nwj", **TINY), "dv": MIEstimator("dv", **TINY)}
    tasks = [T.binormal(), T.AdditiveUniform(0.3)]
    rows = T.benchmark(est, tasks, n_samples=200, runner=cached_runner(tmp_path, "ch"))
    entries = [p for p in (tmp_path / "ch").glob("*.pkl") if not p.name.startswith("group-")]
    assert len(entries) == 4
    for p in entries: p.unlink()                  # as if killed before the entries were written

    def no_training(*a, **k): raise AssertionError("retrained a finished model")
    monkeypatch.setattr(T, "_train_group", no_training)
    again = T.benchmark(est, tasks, n_samples=200, runner=cached_runner(tmp_path, "ch"))
    assert [r["estimate"] for r in again] == [r["estimate"] for r in rows]


def test_compute_time_is_the_same_when_read_back(tmp_path):
    "A chapter's run record adds up the same compute time whether its batched models trained in this run or were read back"
    longer = TINY | dict(steps=150)   # training, not bookkeeping, is most of the time
    est = {"nwj": MIEstimator("nwj", **longer), "js": MIEstimator("js", **longer), "cca": T.cca_mi}
    tasks = [T.binormal(0.5), T.binormal(0.9)]
    totals = []
    for _ in range(2):   # trained, then every entry read from the cache
        rec = start_run("bench_time", "smoke", "cpu")
        rows = T.benchmark(est, tasks, seeds=(0,), n_samples=200, runner=cached_runner(tmp_path, "bench_time"))
        rec.finish(tmp_path)
        totals.append((rec.compute_s, rec.cached_results, sum(r["seconds"] for r in rows)))
    (fresh, n_fresh, rows_fresh), (again, n_again, rows_again) = totals
    assert n_fresh == 0 and n_again == len(tasks) * len(est) + 1   # every entry, and the one model behind the neural ones
    assert rows_again == pytest.approx(rows_fresh)
    assert again == pytest.approx(fresh, rel=0.25)   # a batched model's time is not lost when its members are read back
    assert again >= rows_again - 1e-9   # the stored times hold at least what the rows say the training took
