"""A training run killed with SIGKILL half-way resumes from its last checkpoint and ends with exactly the
numbers of an uninterrupted run with the same seed (minfo.utils.Checkpoint)."""
import json
import os
import signal
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import sys, time, torch
    from minfo.utils import Checkpoint, seed_everything, atomic_write_json
    out, path, steps = sys.argv[1], sys.argv[2], 400
    torch.set_num_threads(1)
    seed_everything(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ELU(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    ck = Checkpoint(path, every=25)
    start, values = ck.restore(net=net, opt=opt)
    print(f"start {start}", flush=True)
    hist = values.get("hist", [])
    for step in range(start, steps):
        x = torch.randn(128, 16)
        y = x[:, :4].sum(1, keepdim=True) + 0.1 * torch.randn(128, 1)
        loss = (net(x) - y).pow(2).mean()
        opt.zero_grad(); loss.backward(); opt.step(); hist.append(loss.item())
        if ck.due(step + 1):
            ck.save(step + 1, net=net, opt=opt, hist=hist)
            print(f"saved {step + 1}", flush=True)
            time.sleep(0.05)
    atomic_write_json(out, {"hist": hist, "params": [p.detach().flatten().tolist() for p in net.parameters()]})
''')


def _run(script, out, ck):
    return subprocess.run([sys.executable, str(script), str(out), str(ck)], capture_output=True, text=True, check=True)


def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    _run(script, tmp_path / "straight.json", tmp_path / "straight.pt")

    out, ck = tmp_path / "killed.json", tmp_path / "killed.pt"
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(ck)], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("saved") and int(line.split()[1]) >= 200:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run must really have been killed"
    assert not out.exists(), "a killed run must not leave a result behind"

    resumed = _run(script, out, ck)
    start = int(resumed.stdout.split()[1])
    assert 200 <= start < 400, resumed.stdout
    a, b = json.loads((tmp_path / "straight.json").read_text()), json.loads(out.read_text())
    assert a["hist"] == b["hist"] and a["params"] == b["params"]
