
import numpy as np
import pytest
import torch

# Tests are small: one thread each keeps 2-core CI machines responsive and results bit-stable.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def offline_torch_home(tmp_path, monkeypatch):
    """An empty torch hub cache: code must fail clearly, never download."""
    home = tmp_path / "torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    import torch.hub

    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    return home
