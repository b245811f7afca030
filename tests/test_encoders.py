"minfo.encoders: shapes of every tap, the ResNet/PlainNet relation, training and resuming."
import os

import pytest
import torch

from minfo.encoders import TAPS, LeNet5, MLPEncoder, ResNet18, plainnet18, resnet18, train_encoder
from minfo.utils import Checkpoint

torch.set_num_threads(1)


@pytest.mark.parametrize("make", [resnet18, plainnet18])
@pytest.mark.parametrize("in_channels, size, width", [(3, 32, 8), (1, 28, 4), (3, 32, 2)])
def test_taps_have_prelogit_dimension(make, in_channels, size, width):
    net = make(in_channels=in_channels, num_classes=4, width=width).eval()
    x = torch.randn(3, in_channels, size, size)
    f = net.features(x)
    assert list(f) == list(TAPS)
    assert all(v.shape == (3, 8 * width) for v in f.values())
    assert net(x).shape == (3, 4)
    torch.testing.assert_close(net(x), net.fc(f["prelogits"]))


def test_plainnet_is_resnet_without_skips():
    r, p = resnet18(width=8), plainnet18(width=8)
    assert isinstance(p, ResNet18) and r.skip and not p.skip
    rn = {n for n, _ in r.named_parameters() if "shortcut" not in n}
    assert rn == {n for n, _ in p.named_parameters()}
    # same weights: outputs differ only because of the shortcuts
    p.load_state_dict({k: v for k, v in r.state_dict().items() if "shortcut" not in k})
    r.eval(); p.eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(r.features(x)["B0"], p.features(x)["B0"])
    assert not torch.allclose(r.features(x)["B1"], p.features(x)["B1"])


def test_stem_and_no_maxpool():
    net = resnet18(width=8)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1) and net.conv1.padding == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in net.modules())
    maps = net._maps(torch.randn(1, 3, 32, 32))
    assert [tuple(maps[k].shape[1:]) for k in ("B0", "B1", "B2", "B3", "B4")] == \
        [(8, 32, 32), (8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4)]


def test_b4_is_max_prelogits_is_mean():
    net = resnet18(width=4).eval()
    x = torch.randn(2, 3, 32, 32)
    b4 = net._maps(x)["B4"]
    f = net.features(x)
    torch.testing.assert_close(f["B4"], b4.amax(dim=(2, 3)))
    torch.testing.assert_close(f["prelogits"], b4.mean(dim=(2, 3)))


def test_mlp_and_lenet():
    assert MLPEncoder()(torch.randn(5, 784)).shape == (5, 100)
    enc = MLPEncoder()
    assert [m.p for m in enc.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    f = LeNet5().features(torch.randn(2, 1, 28, 28))
    assert {k: v.shape[1] for k, v in f.items()} == {"L0": 1176, "L1": 784, "L2": 120}


def test_train_encoder_learns_and_validates_input():
    torch.manual_seed(0)
    y = torch.arange(64) % 2
    x = torch.randn(64, 1, 10, 10) + 1.5 * (2 * y - 1).view(-1, 1, 1, 1).float()
    h = train_encoder(resnet18(1, 2, width=4), x, y, epochs=8, batch_size=16, lr=0.02, device="cpu",
                      x_val=x, y_val=y)
    assert h["train_acc"][-1] > 0.9 and len(h["val_acc"]) == 8 and h["seconds"] > 0
    with pytest.raises(ValueError, match="labels"):
        train_encoder(resnet18(1, 2, width=4), x, y[:10], epochs=1)


def test_lr_schedule_milestones(monkeypatch):
    "lr drops by 10 at 1/2 and 3/4 of the epochs"
    seen = []
    orig = torch.optim.SGD.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return orig(self, *a, **k)
    monkeypatch.setattr(torch.optim.SGD, "step", spy)
    x, y = torch.randn(8, 1, 8, 8), torch.arange(8) % 2
    train_encoder(resnet18(1, 2, width=2), x, y, epochs=8, batch_size=8, lr=0.1, device="cpu")
    assert seen == pytest.approx([0.1] * 4 + [0.01] * 2 + [0.001] * 2)


def _two_class_images():
    y = torch.arange(32) % 2
    return torch.randn(32, 1, 8, 8) + (2 * y - 1).view(-1, 1, 1, 1).float(), y


def _train_or_crash(x, y, ck=None, fail_after=None, **kw):
    "A fresh seeded ResNet18 trained on (x, y); with `fail_after`, killed (KeyboardInterrupt) at that forward call"
    torch.manual_seed(3)
    net = resnet18(1, 2, width=2)
    if fail_after is not None:
        calls, fwd = [0], net.forward

        def boom(z):
            calls[0] += 1
            if calls[0] > fail_after: raise KeyboardInterrupt
            return fwd(z)
        net.forward = boom
    return net, train_encoder(net, x, y, batch_size=8, lr=0.05, device="cpu", checkpoint=ck, **kw)


def test_resume_after_crash(tmp_path):
    x, y = _two_class_images()
    run = lambda ck=None, fail_after=None: _train_or_crash(x, y, ck, fail_after, epochs=5)

    ref, href = run()
    ck = Checkpoint(tmp_path / "ck.pt", every=2)
    with pytest.raises(KeyboardInterrupt):
        run(ck, fail_after=5 * 3 + 2)        # 5 forward calls per epoch (4 batches + accuracy): dies in epoch 4
    assert ck.path.exists()
    net, h = run(ck)
    for a, b in zip(ref.state_dict().values(), net.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert h["train_acc"] == href["train_acc"] and not ck.path.exists()


# --- the device-side loop against a reference copy of the loop it replaced ------------------------------------------

def _old_train_encoder(net, x, y, epochs, batch_size, lr, momentum=0.9, weight_decay=0.0, milestones=(4, 6), seed=0):
    "The host-batched loop as it was (per-step .to(device) and .item()), milestones given as epochs"
    import torch.nn.functional as F
    from minfo.encoders import accuracy
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(milestones), gamma=0.1)
    gen = torch.Generator().manual_seed(int(seed))
    hist = {"loss": [], "running_acc": [], "train_acc": []}
    for _epoch in range(epochs):
        net.train()
        perm, tot, hits = torch.randperm(len(x), generator=gen), 0.0, 0
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            if len(idx) < 2: continue
            yb = y[idx]
            out = net(x[idx])
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
            tot += loss.item() * len(idx); hits += (out.argmax(1) == yb).sum().item()
        sched.step()
        hist["loss"].append(tot / len(x)); hist["running_acc"].append(hits / len(x))
        hist["train_acc"].append(accuracy(net, x, y, device="cpu"))
    return hist


@pytest.mark.parametrize("n, batch_size", [(48, 16), (41, 8)])   # 41 = 5 batches of 8 and a batch of one (skipped)
def test_new_loop_gives_the_old_loops_weights(n, batch_size):
    torch.manual_seed(0)
    y = torch.arange(n) % 3
    x = torch.randn(n, 1, 8, 8) + y.view(-1, 1, 1, 1).float()
    torch.manual_seed(5); a = resnet18(1, 3, width=2)
    torch.manual_seed(5); b = resnet18(1, 3, width=2)
    ha = _old_train_encoder(a, x, y, epochs=8, batch_size=batch_size, lr=0.05, weight_decay=1e-4, seed=3)
    hb = train_encoder(b, x, y, epochs=8, batch_size=batch_size, lr=0.05, weight_decay=1e-4, seed=3, device="cpu")
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), k                   # bit for bit on the CPU: same batches, same maths
    assert ha["loss"] == hb["loss"] and ha["running_acc"] == hb["running_acc"] and ha["train_acc"] == hb["train_acc"]


def test_milestones_at_182_epochs_and_short_runs():
    from minfo.encoders import milestone_epochs
    from minfo.sae import milestone_epochs as sae_milestones
    assert milestone_epochs(182) == [91, 137] and sae_milestones is milestone_epochs
    for e in range(1, 200):
        ms = milestone_epochs(e)
        assert ms[0] >= 1 and all(a < b for a, b in zip(ms, ms[1:])), (e, ms)
        assert abs(ms[0] - e / 2) <= 0.5
    with pytest.raises(ValueError, match="fractions in"): milestone_epochs(10, (0.0, 0.5))
    with pytest.raises(ValueError, match="epochs must be a positive integer"): milestone_epochs(-3)


def test_adam_schedule_and_bad_optimizer(monkeypatch):
    seen = []
    orig = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.append((self.param_groups[0]["lr"], self.param_groups[0]["weight_decay"]))
        return orig(self, *a, **k)
    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    x, y = torch.randn(8, 1, 8, 8), torch.arange(8) % 2
    train_encoder(resnet18(1, 2, width=2), x, y, epochs=4, batch_size=8, lr=5e-4, weight_decay=1e-5,
                  optimizer="adam", device="cpu")
    assert seen == [(5e-4, 1e-5)] * 4          # Adam: no decay unless milestones are given (App. D.1)
    seen.clear()
    train_encoder(resnet18(1, 2, width=2), x, y, epochs=4, batch_size=8, lr=1e-3, optimizer="adam",
                  milestones=(0.5,), device="cpu")
    assert [s[0] for s in seen] == pytest.approx([1e-3] * 2 + [1e-4] * 2)
    with pytest.raises(ValueError, match="momentum is an SGD setting"):
        train_encoder(resnet18(1, 2, width=2), x, y, epochs=1, optimizer="adam", momentum=0.5, device="cpu")
    with pytest.raises(ValueError, match="optimizer must be 'sgd' or 'adam'"):
        train_encoder(resnet18(1, 2, width=2), x, y, epochs=1, optimizer="Adam", device="cpu")
    with pytest.raises(ValueError, match="data_device must be"):
        train_encoder(resnet18(1, 2, width=2), x, y, epochs=1, data_device="gpu", device="cpu")
    with pytest.raises(ValueError, match="augment=.flip_crop. needs images"):
        train_encoder(MLPEncoder(64, out_features=2), x.flatten(1), y, epochs=1, augment="flip_crop", device="cpu")


def test_flip_crop_matches_a_per_image_reference():
    from minfo.encoders import draw_flip_crop, flip_crop
    x = torch.randn(16, 3, 10, 12)
    flip, shift = draw_flip_crop(16, torch.Generator().manual_seed(1))
    out = flip_crop(x, flip, shift)
    for i in range(16):
        img = x[i].flip(2) if flip[i] else x[i]
        p = torch.nn.functional.pad(img, (4, 4, 4, 4))
        r, c = shift[i].tolist()
        assert torch.equal(out[i], p[:, r:r + 10, c:c + 12])


def test_augmented_run_resumes_exactly(tmp_path):
    x, y = _two_class_images()
    run = lambda ck=None, fail_after=None: _train_or_crash(x, y, ck, fail_after, epochs=4, augment="flip_crop",
                                                           full_train_acc=False)

    ref, href = run()
    ck = Checkpoint(tmp_path / "ck.pt", every=1)
    with pytest.raises(KeyboardInterrupt):
        run(ck, fail_after=4 * 2 + 1)        # 4 forward calls per epoch (no accuracy pass): dies in epoch 3
    net, h = run(ck)
    for a, b in zip(ref.state_dict().values(), net.state_dict().values()):
        assert torch.equal(a, b)
    assert h["loss"] == href["loss"]


def test_bf16_autocast_and_channels_last_train():
    torch.manual_seed(0)
    y = torch.arange(64) % 2
    x = torch.randn(64, 1, 10, 10) + 1.5 * (2 * y - 1).view(-1, 1, 1, 1).float()
    net = resnet18(1, 2, width=4)
    h = train_encoder(net, x, y, epochs=6, batch_size=16, lr=0.02, device="cpu", autocast_dtype=torch.bfloat16,
                      channels_last=True)
    assert h["train_acc"][-1] > 0.9 and all(p.dtype == torch.float32 for p in net.parameters())


@pytest.mark.skipif(not os.environ.get("MINFO_SLOW"), reason="torch.compile takes about 100 s on 2 CPU cores; MINFO_SLOW=1 runs it")
def test_compile_trains_the_same_model():
    torch.manual_seed(0)
    y = torch.arange(64) % 2
    x = torch.randn(64, 1, 10, 10) + 1.5 * (2 * y - 1).view(-1, 1, 1, 1).float()
    torch.manual_seed(1); a = resnet18(1, 2, width=4)
    torch.manual_seed(1); b = resnet18(1, 2, width=4)
    ha = train_encoder(a, x, y, epochs=3, batch_size=16, lr=0.02, device="cpu")
    hb = train_encoder(b, x, y, epochs=3, batch_size=16, lr=0.02, device="cpu", compile=True)
    assert list(a.state_dict()) == list(b.state_dict())        # the checkpointable state is the plain model's
    assert ha["loss"] == pytest.approx(hb["loss"], rel=1e-2, abs=5e-3)   # fused kernels: float error grows over 3 epochs


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_keeps_the_data_on_the_device_and_matches_the_cpu():
    from minfo.encoders import place_data
    y = torch.arange(256) % 4
    x = torch.randn(256, 1, 12, 12) + y.view(-1, 1, 1, 1).float()
    assert place_data((x, y), "cuda")[0].is_cuda and not place_data((x, y), "cuda", "host")[0].is_cuda
    runs = {}
    for dev, dd in (("cpu", "auto"), ("cuda", "auto"), ("cuda", "host")):
        torch.manual_seed(0); net = resnet18(1, 4, width=4)
        runs[dev, dd] = train_encoder(net, x, y, epochs=2, batch_size=32, lr=0.05, device=dev, data_device=dd)
    assert runs["cuda", "auto"]["loss"] == runs["cuda", "host"]["loss"]     # same batches, same kernels
    assert runs["cpu", "auto"]["loss"] == pytest.approx(runs["cuda", "auto"]["loss"], rel=1e-3)
