"""Shared fixtures: smoke models trained once per test process into a temporary artifacts folder."""
import pytest
import torch

from intermask_lite.kit import load_pretrained


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module: tiny models run fastest that way, and the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smoke_artifacts(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("artifacts")
    load_pretrained("smoke", artifacts_dir=root, device="cpu", train_if_missing=True)
    yield root
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smoke_kit(smoke_artifacts):
    return load_pretrained("smoke", artifacts_dir=smoke_artifacts, device="cpu")
