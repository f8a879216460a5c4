"""`madoguchi keys status` and `madoguchi keys rotate`, on the embedded default and with keys
given in the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from madoguchi import sealing
from madoguchi.cli import main
from madoguchi.sealing.keys import KeyFiles, parse_keys
from madoguchi.sealing.startup import forget_checks

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def embedded(tmp_path, sealing_keys) -> Iterator[dict[str, str]]:
    """A fresh embedded install (SQLite and key files in its var/) with a small demo city."""
    env = {"MADOGUCHI_CONFIG": str(ROOT / "config.toml"), "MADOGUCHI_VAR_DIR": str(tmp_path),
           "DATABASE_URL": "", "MADOGUCHI_DATA_KEYS": "", "MADOGUCHI_INDEX_KEY": ""}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    made = runner.invoke(main, ["demo-data", "--residents", "30"], env=env)
    assert made.exit_code == 0, made.output
    try:
        yield env
    finally:
        forget_checks()
        sealing.install(sealing_keys)


def _keys(tmp_path: Path, *, index: bool = False) -> list[str]:
    files = KeyFiles.in_folder(tmp_path)
    return [key.id for key in parse_keys((files.index_path if index else files.data_path)
                                         .read_text())]


def test_status_counts_what_each_key_seals_and_indexes(embedded):
    shown = CliRunner().invoke(main, ["keys", "status"], env=embedded)
    assert shown.exit_code == 0, shown.output
    assert "k1 (newest): " in shown.output and "i1 (newest): " in shown.output
    assert "not finished" not in shown.output


def test_rotate_on_the_embedded_default_adds_a_key_and_moves_every_value_to_it(embedded,
                                                                              tmp_path):
    runner = CliRunner()
    rotated = runner.invoke(main, ["keys", "rotate", "--batch-size", "7"], env=embedded)
    assert rotated.exit_code == 0, rotated.output
    assert f"Added the new data key k2 to {tmp_path / 'data_keys'}" in rotated.output
    assert "  k1: 0 values" in rotated.output and "Nothing is left under k1" in rotated.output
    assert _keys(tmp_path) == ["k2", "k1"]
    indexed = runner.invoke(main, ["keys", "rotate", "--index"], env=embedded)
    assert indexed.exit_code == 0, indexed.output
    assert "  i1: 0 digests" in indexed.output and _keys(tmp_path, index=True) == ["i2", "i1"]
    found = runner.invoke(main, ["keys", "status"], env=embedded)
    assert "k2 (newest)" in found.output and "i2 (newest)" in found.output
    assert "not finished" not in found.output


def test_an_unfinished_rotation_is_finished_before_any_new_key_is_added(embedded, tmp_path):
    files = KeyFiles.in_folder(tmp_path)
    files.add_newest(index=False)  # as if `keys rotate` had stopped right after adding k2
    runner = CliRunner()
    pending = runner.invoke(main, ["keys", "status"], env=embedded)
    assert "A rotation is not finished" in pending.output
    resumed = runner.invoke(main, ["keys", "rotate"], env=embedded)
    assert resumed.exit_code == 0, resumed.output
    assert "Finishing the rotation to data key k2." in resumed.output
    assert _keys(tmp_path) == ["k2", "k1"], "no third key while the second was unfinished"


def test_with_keys_in_the_environment_rotate_asks_for_a_new_key_first(base_env, committed_db):
    result = CliRunner().invoke(main, ["keys", "rotate"], env=base_env)
    assert result.exit_code == 0, result.output
    assert "Everything is already under the newest data key (t1)" in result.output
    assert "put a new key first in MADOGUCHI_DATA_KEYS" in result.output
