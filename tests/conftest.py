"Shared fixtures: the project root, and the smoke-profile book that the chapter and browser tests share."
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MINFO_PROGRESS", "0")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    "Where the smoke-profile chapters are executed (`stage`) and which ones ran in this session."
    base = tmp_path_factory.mktemp("smoke_book")
    return {"base": base, "stage": base / "_build" / "executed" / "smoke", "results": base / "results", "ran": set()}
