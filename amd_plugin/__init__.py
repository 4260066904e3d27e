"""AMD objectness: the core library (model, checkpoints, inference, I/O, visualisation).

Imports neither FiftyOne nor TensorRT.
"""

__version__ = "0.1.0"

from amd_plugin.checkpoint import LoadedModel, load_model, save_checkpoint
from amd_plugin.model_config import ModelConfig
from amd_plugin.modeling.amd import AMD
from amd_plugin.predictor import Prediction, Segmenter

__all__ = [
    "AMD",
    "LoadedModel",
    "ModelConfig",
    "Prediction",
    "Segmenter",
    "__version__",
    "load_model",
    "save_checkpoint",
]
