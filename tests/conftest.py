"""Fixtures shared by the test modules."""
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the repository: real photos, and the lemur with its hand-drawn trimap."""
    assert SHARED_DATA.is_dir(), f"{SHARED_DATA} is missing: the tests read real photos from it"
    return SHARED_DATA


@pytest.fixture(scope="session")
def model_store(tmp_path_factory) -> Path:
    """A store holding the archive `make mar` builds from the real export."""
    store = tmp_path_factory.mktemp("model_store")
    build = subprocess.run(["make", "--no-print-directory", "mar", f"MODEL_STORE={store}"], cwd=REPO,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    return store
