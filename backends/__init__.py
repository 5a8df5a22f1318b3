"""Lowerings from the archspec IR to deep-learning frameworks, one subpackage per framework.

Importing `backends` imports no framework; `backends.torch` and `backends.tensorflow` do.
"""
