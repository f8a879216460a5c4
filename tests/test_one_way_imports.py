"""The packages import only downward: prompts < madoguchi < call_queue < ivr < agent_console.

The contract lives in pyproject.toml ([tool.importlinter]); only the composition roots
(create_app, the CLI, serve and the worker) may import upward.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("prompts", "madoguchi", "call_queue", "ivr", "agent_console")


def test_every_package_imports_only_the_layers_below_it(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    exit_code = lint_imports(config_filename=os.fspath(ROOT / "pyproject.toml"),
                             no_cache=True)
    assert exit_code == 0, capsys.readouterr().out


def test_the_contract_notices_an_upward_import(tmp_path, monkeypatch, capsys):
    # A copy of the house with one upward import (the line reaching into the menu) must fail.
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "call_queue" / "line.py").write_text("def probe():\n    from ivr import flow\n")
    (tmp_path / "ivr" / "flow.py").write_text("")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(os.fspath(tmp_path))
    # The real packages are already imported; hide them so the copy is the one analysed.
    for name in list(sys.modules):
        if name.split(".")[0] in PACKAGES:
            monkeypatch.delitem(sys.modules, name)
    exit_code = lint_imports(config_filename=os.fspath(tmp_path / "pyproject.toml"),
                             no_cache=True)
    assert exit_code == 1
    assert "call_queue.line -> ivr.flow" in capsys.readouterr().out
