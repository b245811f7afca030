"minfo.encoders: shapes of every tap, the ResNet/PlainNet relation, training and resuming."
import pytest
import torch

from minfo.encoders import TAPS, LeNet5, MLPEncoder, ResNet18, plainnet18, resnet18, train_encoder
from minfo.run import Checkpoint

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


def test_resume_after_crash(tmp_path):
    y = torch.arange(32) % 2
    x = torch.randn(32, 1, 8, 8) + (2 * y - 1).view(-1, 1, 1, 1).float()

    def run(ck=None, fail_after=None):
        torch.manual_seed(3)
        net = resnet18(1, 2, width=2)
        if fail_after is not None:
            calls, fwd = [0], net.forward

            def boom(z):
                calls[0] += 1
                if calls[0] > fail_after: raise KeyboardInterrupt
                return fwd(z)
            net.forward = boom
        return net, train_encoder(net, x, y, epochs=5, batch_size=8, lr=0.05, device="cpu", checkpoint=ck)

    ref, href = run()
    ck = Checkpoint(tmp_path / "ck.pt", every=2)
    with pytest.raises(KeyboardInterrupt):
        run(ck, fail_after=5 * 3 + 2)        # 5 forward calls per epoch (4 batches + accuracy): dies in epoch 4
    assert ck.path.exists()
    net, h = run(ck)
    for a, b in zip(ref.state_dict().values(), net.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert h["train_acc"] == href["train_acc"] and not ck.path.exists()
