"""`stackctl run mas check-synapse`: every setting Synapse refuses with MAS delegation, named
with its fix; the same cases start the real Synapse in tests/engine/test_mas_synapse.py."""

from __future__ import annotations

import pytest
import yaml
from synapse_cases import ACCEPTED, REFUSED

from stackctl.paths import stacks_dir
from stackctl.recipe_module import load

kinds = load(stacks_dir() / "mas")
BLOCK = {
    "matrix_authentication_service": {
        "enabled": True,
        "endpoint": "http://mas:8080/",
        "secret_path": "/config/mas_secret",
    }
}


@pytest.mark.parametrize(
    ("case", "fragment", "key", "message"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_each_refused_setting_is_named_with_a_fix(case, fragment, key, message):
    found = kinds.synapse_refusals({**BLOCK, **fragment})
    assert [r.key for r in found] == [key]
    assert found[0].fix


@pytest.mark.parametrize(("case", "fragment"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted_configs_pass(case, fragment):
    assert kinds.synapse_refusals({**BLOCK, **fragment}) == []


def test_all_refusals_are_listed_together():
    merged = {**BLOCK}
    for _, fragment, _, _ in REFUSED:
        merged.update(fragment)
    keys = {r.key for r in kinds.synapse_refusals(merged)}
    assert keys == {key for _, _, key, _ in REFUSED}


def test_registration_reads_like_synapse_strtobool_and_flags_like_truthiness():
    assert kinds.synapse_refusals({"enable_registration": "false"}) == []
    assert [r.key for r in kinds.synapse_refusals({"enable_registration": "yes"})] == [
        "enable_registration"
    ]
    # Synapse reads this one by plain truthiness: the string "false" turns it on
    assert [r.key for r in kinds.synapse_refusals({"enable_3pid_changes": "false"})] == [
        "enable_3pid_changes"
    ]


def test_the_action_reads_several_files_merged_and_exits_1_on_a_refusal(tmp_path, capsys):
    from types import SimpleNamespace

    base = tmp_path / "homeserver.yaml"
    base.write_text(yaml.safe_dump({"server_name": "example.lan", "enable_registration": True}))
    block = tmp_path / "mas.yaml"
    block.write_text(yaml.safe_dump(BLOCK))
    stack = SimpleNamespace(name="mas", dir=tmp_path)
    result = kinds.check_synapse(stack, None, None, [[str(base), str(block)]])
    assert result.exit_code == 1 and "1 setting" in result.message
    assert "enable_registration" in capsys.readouterr().err
    base.write_text(yaml.safe_dump({"server_name": "example.lan"}))
    result = kinds.check_synapse(stack, None, None, [[str(base), str(block)]])
    assert result.exit_code == 0


def test_an_unreadable_or_non_yaml_file_is_one_error_line(tmp_path):
    from types import SimpleNamespace

    from stackctl.errors import StackctlError

    stack = SimpleNamespace(name="mas", dir=tmp_path)
    with pytest.raises(StackctlError, match="cannot read"):
        kinds.check_synapse(stack, None, None, [str(tmp_path / "missing.yaml")])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(StackctlError, match="no top-level mapping"):
        kinds.check_synapse(stack, None, None, [str(bad)])
