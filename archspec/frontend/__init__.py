"""The front end: spec text to the IR's nodes. `loader` reads YAML with positions, `schema` checks
it, `linker` resolves include and extends, `overrides` applies `--set`, `expand` instantiates
blocks (with `expr`, the safe expressions), `width` scales widths and `preprocess` reads `input:`."""
