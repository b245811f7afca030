"The README's library quickstart runs and prints what the README says it prints (so its numbers cannot drift)."
import re
import subprocess
import sys

from conftest import ROOT


def _quickstart() -> tuple[str, str]:
    "The first python block of the README's 'Library quickstart' section and the text block that follows it."
    text = (ROOT / "README.md").read_text()
    section = text.split("## Library quickstart", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```python\n.*?```.*?```text\n(.*?)```", section, re.S).group(1)
    return code, shown


def test_quickstart_prints_what_the_readme_shows(tmp_path):
    code, shown = _quickstart()
    assert "estimate_mi" in code and "seed=0" in code and 'device="cpu"' in code
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "MINFO_PROGRESS": "0"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout == shown, f"the README shows\n{shown}\nbut the code printed\n{res.stdout}"


def test_readme_names_the_commands_and_the_install_line():
    text = (ROOT / "README.md").read_text()
    for needle in ("make book", "make test", "pip install .", "minfo-lab", "minfo estimate", "minfo vinfo",
                   "papermill nbs/", "MINFO_PROGRESS=0", "progress=False"):
        assert needle in text, needle
    assert "2.6 nats" not in text  # an under-trained number once presented as the high-MI effect
