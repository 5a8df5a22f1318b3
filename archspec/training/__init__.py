"""Training and evaluation, apart from lowering and code generation: the data and its crops, the
paper's recipe, verified checkpoints, a run's life and directory, its log and metrics, and one
package per framework with its trainer and evaluator (`archspec.training.torch`,
`archspec.training.tensorflow`). Nothing here is needed to build, compile or convert a model.
"""
