"""Training and evaluation on Keras (TensorFlow): the trainer and the evaluator."""
