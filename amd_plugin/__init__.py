"""AMD objectness: the core library (model, checkpoints, inference, I/O, visualisation).

Imports neither FiftyOne nor TensorRT.
"""

__version__ = "0.1.0"
