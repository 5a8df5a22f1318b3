"""Models that exist in code, as specs: `structure` writes a flat list of ops as blocks, block
types, parameters and repeats, whatever framework they came from; `torch` traces a PyTorch model
into that list."""
