"""The docs name files of this repository (tests that prove a claim, scripts, specs): each must
exist, so that a move that forgets the docs fails here rather than send a reader nowhere."""

from __future__ import annotations

import re

from support import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A path in backquotes that starts at a top-level folder of the repository and names a file.
NAMED = re.compile(r"`(?:\S+ )*((?:tests|benchmarks|specs|archspec|backends|docs)/[\w./-]+\.(?:py|yaml|md|json|js))\b")


def test_every_file_the_docs_name_exists() -> None:
    named = {(doc.name, path) for doc in DOCS for path in NAMED.findall(doc.read_text())}
    assert len(named) > 20  # the pattern still finds the references
    missing = sorted((doc, path) for doc, path in named if not (ROOT / path).exists())
    assert not missing, missing
