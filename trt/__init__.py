"""ONNX export, TensorRT engine build and runtimes that honour the ``Segmenter`` interface."""
