"""Every recipe is consistent: its kinds exist, its settings defaults validate, its files render."""

import pytest

from stackctl import secrets
from stackctl.kinds import known_kinds
from stackctl.recipe import all_recipes
from stackctl.settings import parse_site, stack_settings


@pytest.mark.parametrize("name", list(all_recipes()))
def test_recipe_kinds_and_formats_are_known(name):
    recipe = all_recipes()[name]
    steps, actions = known_kinds()
    assert {s.kind for s in recipe.bootstrap} <= steps
    assert {a.kind for a in recipe.actions} <= actions
    assert {s.format for s in recipe.secrets} <= set(secrets.FORMATS)
    services = {s.name for s in recipe.services}
    assert {e.service for e in recipe.extractors} <= services
    assert {a.service for a in recipe.actions if a.service} <= services
    assert set(recipe.network.fixed_ips) <= services


@pytest.mark.parametrize("name", list(all_recipes()))
def test_recipe_defaults_validate(name):
    recipe = all_recipes()[name]
    site = parse_site({"domain": "example.org"})
    values = stack_settings(site, name, recipe.settings, list(all_recipes()))
    for setting in recipe.settings:
        value = values[setting.name]
        if value in (None, "", []):  # unset until the user sets it
            continue
        # defaults are used unchecked, so each must already be in its kind's checked form
        assert setting.check(value) == value, f"{name}.{setting.name} default {value!r}"
