"""Training and evaluation on PyTorch: the trainer, the evaluator, the data loaders, the moving
average, optimizer checkpoints and the process group of a torchrun launch."""
