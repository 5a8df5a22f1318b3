"""Trained models put to use: `export` writes ONNX, pt2, SavedModel and Keras files, each checked by
running it, and `predict` names the top classes of image files."""
