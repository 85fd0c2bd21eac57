"""Fixtures shared by the test modules."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the repository: real photos, and the lemur with its hand-drawn trimap."""
    assert SHARED_DATA.is_dir(), f"{SHARED_DATA} is missing: the tests read real photos from it"
    return SHARED_DATA
