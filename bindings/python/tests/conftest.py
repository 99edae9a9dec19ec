import json
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
VECTORS = REPO / "vectors" / "official"


@pytest.fixture(scope="session")
def manifest():
    path = VECTORS / "manifest.json"
    assert path.is_file(), f"the official vectors are missing: {path}"
    return json.loads(path.read_text())
