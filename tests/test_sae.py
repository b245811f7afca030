"""minfo.sae: bad input fails with a message that names the parameter, and a supervised-autoencoder run killed with
SIGKILL half-way resumes from its checkpoint and ends with exactly the numbers of an uninterrupted run."""
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import torch.nn as nn

from minfo.sae import (SupervisedAutoencoder, check_lambda, make_encoder, pretext_data, train_sae, downstream_metrics,
                       milestone_epochs)


def _model(lam=0.25, decoder="linear", k=4, shape=(1, 8, 8)):
    torch.manual_seed(0)
    return SupervisedAutoencoder(make_encoder("resnet18", shape[0], 2), 16, shape, k, decoder, lam=lam,
                                 decoder_hidden=(8,))


def _data(n=64, k=4):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 8, 8, generator=g), torch.randint(k, (n,), generator=g)


@pytest.mark.parametrize("lam, exc, text", [
    (-1, ValueError, "lam must be a number in \\[0, inf\\]"), (float("nan"), ValueError, "lam must be"),
    ("0.25", TypeError, "lam must be a number"), (None, TypeError, "lam must be a number"),
    (True, TypeError, "lam must be a number"), ([0.25], TypeError, "lam must be a number")])
def test_bad_lambda(lam, exc, text):
    with pytest.raises(exc, match=text): check_lambda(lam)
    with pytest.raises(exc, match=text): _model(lam=lam)


def test_good_lambdas_and_switched_off_terms():
    assert check_lambda(0) == 0.0 and check_lambda(math.inf) == math.inf and check_lambda(2) == 2.0
    m0, mi = _model(lam=0), _model(lam=math.inf, k=None)
    assert m0.decoder is None and m0.head is not None and mi.head is None and mi.decoder is not None


def test_decoder_output_must_match_the_input():
    with pytest.raises(ValueError, match=r"must map \[batch, 16\] representations to \[batch, 64\]"):
        _model(decoder=lambda d_in, d_out: nn.Linear(d_in, d_out + 1))
    with pytest.raises(ValueError, match="returned"):
        _model(decoder=lambda d_in, d_out: nn.Sequential(nn.Linear(d_in, d_out), nn.Unflatten(1, (1, 8, 8))))
    with pytest.raises(ValueError, match="unknown family/head"): _model(decoder="transformer")
    with pytest.raises(TypeError, match="must return an nn.Module"): _model(decoder=lambda a, b: "not a module")


def test_unknown_pretext_and_arch():
    x, y = torch.randn(4, 1, 8, 8), torch.arange(4)
    with pytest.raises(ValueError, match="unknown pretext 'jigsaw'; use one of \\['random', 'rotation'\\]"):
        pretext_data("jigsaw", x, y)
    with pytest.raises(ValueError, match="unknown pretext"): pretext_data(None, x, y)
    with pytest.raises(ValueError, match="unknown arch 'vgg16'"): make_encoder("vgg16")


def test_labels_that_do_not_match_the_data():
    x, y = _data()
    m = _model()
    kw = dict(epochs=1, batch_size=16, lr=0.01, device="cpu")
    with pytest.raises(ValueError, match="y_train must be one label per image: 64 images but shape \\(63,\\)"):
        train_sae(m, x, y[:63], x, y, **kw)
    with pytest.raises(ValueError, match="y_val must be one label per image"): train_sae(m, x, y, x[:10], y, **kw)
    with pytest.raises(ValueError, match="must lie in 0..3 \\(the pretext head has 4 classes\\)"):
        train_sae(m, x, y + 4, x, y, **kw)
    with pytest.raises(ValueError, match="integer class labels"): train_sae(m, x, y.float(), x, y, **kw)
    with pytest.raises(ValueError, match="y_train is required"): train_sae(m, x, None, x, y, **kw)
    with pytest.raises(ValueError, match="x_val must be \\[n >= 2, 1, 8, 8\\]"): train_sae(m, x, y, x[:, :, :4], y, **kw)
    with pytest.raises(TypeError, match="x_train must be a float tensor"): train_sae(m, x.numpy(), y, x, y, **kw)
    with pytest.raises(ValueError, match="6 images but 5 labels"): pretext_data("rotation", x[:6], y[:5])


@pytest.mark.parametrize("name, value, err, text", [("epochs", 0, ValueError, "epochs must be an integer >= 1"),
                                                     ("batch_size", 1.5, TypeError, "batch_size must be an integer, got 1.5"),
                                                     ("lr", 0, ValueError, "lr must lie in (0, inf]"),
                                                     ("momentum", -0.1, ValueError, "momentum must lie in [0, inf]"),
                                                     ("weight_decay", "no", TypeError, "weight_decay must be a number"),
                                                     ("seed", -1, ValueError, "seed must be an integer >= 0")])
def test_bad_settings(name, value, err, text):
    x, y = _data()
    kw = dict(epochs=1, batch_size=16, lr=0.01, device="cpu") | {name: value}
    with pytest.raises(err, match=__import__("re").escape(text)): train_sae(_model(), x, y, x, y, **kw)
    with pytest.raises(ValueError, match="fractions in \\(0, 1\\)"): milestone_epochs(10, (0.0, 0.5))


def test_lambda_inf_needs_no_labels_and_selects_on_l2():
    x, _ = _data()
    m = _model(lam=math.inf, k=None)
    h = train_sae(m, x, None, x, None, epochs=3, batch_size=16, lr=0.01, device="cpu")
    assert h["selected_by"] == "l2" and h["best_epoch"] == h["epoch"][int(torch.tensor(h["val_l2"]).argmin())]
    assert all(math.isnan(v) for v in h["val_pretext_acc"])
    d = downstream_metrics(m.encoder, x, torch.arange(64) % 2, x, torch.arange(64) % 2, linear={}, device="cpu")
    assert set(d) == {"linear_acc"} and 0 <= d["linear_acc"] <= 1


SCRIPT = textwrap.dedent('''
    import json, sys, torch
    from minfo.utils import Checkpoint, atomic_write_json
    from minfo.sae import SupervisedAutoencoder, make_encoder, train_sae
    out, path, lam = sys.argv[1], sys.argv[2], float(sys.argv[3])
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 1, 14, 14, generator=g), torch.randint(4, (96,), generator=g)
    torch.manual_seed(0)
    m = SupervisedAutoencoder(make_encoder("plainnet18", 1, 4), 32, (1, 14, 14), None if lam == float("inf") else 4,
                              "mlp", lam=lam, decoder_hidden=(32,))
    h = train_sae(m, x, y, x[:32], y[:32], epochs=6, batch_size=16, lr=0.02, device="cpu",
                  checkpoint=Checkpoint(path, every=1))
    h.pop("seconds")
    atomic_write_json(out, {"hist": json.dumps(h), "params": [p.detach().flatten().tolist() for p in m.parameters()]})
''')


def _step(path):
    try: return torch.load(path, map_location="cpu", weights_only=False)["step"]
    except Exception: return 0


@pytest.mark.parametrize("lam", [0.25])   # λ = ∞ resumes too: checked in nbs/06a_sae.ipynb
def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path, lam):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    run = lambda out, ck: subprocess.run([sys.executable, str(script), str(out), str(ck), str(lam)], check=True,
                                         capture_output=True, text=True)
    run(tmp_path / "straight.json", tmp_path / "straight.pt")
    out, ck = tmp_path / "killed.json", tmp_path / "killed.pt"
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(ck), str(lam)])
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 300:
        if ck.exists() and _step(ck) >= 2:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run must really have been killed"
    assert not out.exists() and 2 <= _step(ck) < 6
    run(out, ck)
    assert not ck.exists(), "a finished run clears its checkpoint"
    a, b = json.loads((tmp_path / "straight.json").read_text()), json.loads(out.read_text())
    assert a["hist"] == b["hist"] and a["params"] == b["params"]
