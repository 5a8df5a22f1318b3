"""Weights apart from any framework: `neutral` (one flat mapping of node/role to arrays in
TensorFlow's layouts), `tensor_file` (a safetensors reader for every dtype) and `convert` (weight
files between the neutral, torch and keras formats)."""
