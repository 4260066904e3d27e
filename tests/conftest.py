import os

import pytest
import torch

os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
torch.set_num_threads(min(2, torch.get_num_threads()))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def small_model():
    from amd_plugin import AMD, ModelConfig

    torch.manual_seed(0)
    return AMD(ModelConfig(backbone="small", small_width=8, motion_size=(64, 128))).eval()
