"""``scripts/mutate``'s table stays anchored: each mutation's original text is found once in its file.

Running the mutations takes a minute (``scripts/mutate``); this check takes none, so that a
moved line is seen by every run of the suite, not at the next mutation run.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

import pytest

from tests.services import ROOT


def mutations():
    loader = importlib.machinery.SourceFileLoader("mutate_table", os.path.join(ROOT, "scripts", "mutate"))
    spec = importlib.util.spec_from_loader("mutate_table", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate_table"] = module  # its dataclass looks itself up there
    try:
        loader.exec_module(module)
    finally:
        del sys.modules["mutate_table"]
    return module.MUTATIONS


@pytest.mark.parametrize("mutation", mutations(), ids=lambda m: m.name)
def test_each_mutation_finds_its_original_text_exactly_once(mutation):
    with open(os.path.join(ROOT, mutation.file), encoding="utf-8") as fh:
        text = fh.read()
    assert text.count(mutation.original) == 1, f"{mutation.name}: re-anchor it in scripts/mutate"
