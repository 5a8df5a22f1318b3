"""Training and evaluation on Keras (TensorFlow): the trainer and the evaluator."""

# Before the trainer imports Keras: the backend chooses Keras's backend and imports TensorFlow quietly.
import archspec.backends.tensorflow  # noqa: F401
