"""Using a trained model: checkpoints, the torch and ONNX Runtime engines, choosing and loading a model
(a checkpoint, an ONNX file, a run or the pretrained one), reading images with it, evaluating it,
exporting it and explaining what it looks at."""
