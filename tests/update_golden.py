"""Rewrite tests/golden/ from the current code: `make golden`. Review the diff before committing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import ERRATA, GOLDEN, NETWORKS, golden_path, golden_text, state_dict_path, state_dict_text


def main() -> None:
    os.chdir(Path(__file__).resolve().parent.parent)  # file names in messages are repository-relative
    GOLDEN.mkdir(exist_ok=True)
    for path in NETWORKS + ERRATA:
        target = golden_path(path)
        target.write_text(golden_text(path), encoding="utf-8")
        print(f"wrote {target.relative_to(Path.cwd())}")
    state_dict_path(NETWORKS[0]).parent.mkdir(exist_ok=True)
    for path in NETWORKS:
        target = state_dict_path(path)
        target.write_text(state_dict_text(path), encoding="utf-8")
        print(f"wrote {target.relative_to(Path.cwd())}")


if __name__ == "__main__":
    main()
