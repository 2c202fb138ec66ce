"""Site settings: lookup order, defaults, and errors that name the key, the file and what is allowed."""

from pathlib import Path

import pytest

from stackctl.errors import SettingsError
from stackctl.recipe import get_recipe
from stackctl.settings import find_config, load_site, parse_site, resolve_image, stack_settings
from stackctl.values import ValueProblem, hostname


def test_defaults_follow_the_seed_conventions(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STACKCTL_CONFIG", raising=False)
    monkeypatch.setattr("stackctl.settings.SYSTEM_CONFIG", tmp_path / "none.toml")
    site = load_site()
    assert site.stack_dir("ente") == Path("/usr/local/docker-ente")
    assert site.data_dir("ente") == Path("/opt/dockerfiles/ente")
    assert (site.domain, site.proxy) == ("example.lan", "apache")


def test_lookup_order(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stackctl.toml").write_text('domain = "cwd.lan"\n')
    env_file = tmp_path / "env.toml"
    env_file.write_text('domain = "env.lan"\n')
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('domain = "explicit.lan"\n')
    monkeypatch.setenv("STACKCTL_CONFIG", str(env_file))
    assert load_site(explicit).domain == "explicit.lan"
    assert load_site().domain == "env.lan"
    monkeypatch.delenv("STACKCTL_CONFIG")
    assert find_config(None) == (Path("stackctl.toml"), "./stackctl.toml")
    assert load_site().domain == "cwd.lan"


def test_unknown_key_names_key_file_and_allowed(tmp_path):
    with pytest.raises(SettingsError) as err:
        parse_site({"domian": "x.lan"}, path=tmp_path / "s.toml")
    assert "domian" in err.value.message and "s.toml" in err.value.message
    assert "domain" in err.value.hint


def test_bad_values_are_refused_with_what_is_allowed():
    with pytest.raises(SettingsError, match="subnet_pool") as err:
        parse_site({"subnet_pool": ["172.21.0.1/16"]})
    assert "subnet" in err.value.hint
    with pytest.raises(SettingsError, match="proxy"):
        parse_site({"proxy": "lighttpd"})
    with pytest.raises(SettingsError, match="not a private range"):
        parse_site({"subnet_pool": "8.8.0.0/16"})


def test_stack_settings_validate_against_the_recipe():
    recipe = get_recipe("ente")
    site = parse_site({"stacks": {"ente": {"api_port": 70000}}})
    with pytest.raises(SettingsError, match=r"stacks\.ente\.api_port") as err:
        stack_settings(site, "ente", recipe.settings, ["ente"])
    assert "65535" in err.value.hint
    site = parse_site({"stacks": {"ente": {"api_hostname": "bad host.lan"}}})
    with pytest.raises(SettingsError, match="api_hostname"):
        stack_settings(site, "ente", recipe.settings, ["ente"])
    site = parse_site({"stacks": {"nope": {}}})
    with pytest.raises(SettingsError, match="names no recipe"):
        stack_settings(site, "ente", recipe.settings, ["ente"])


def test_stack_defaults_derive_from_the_domain():
    recipe = get_recipe("ente")
    values = stack_settings(parse_site({"domain": "home.lan"}), "ente", recipe.settings, ["ente"])
    assert values["api_hostname"] == "ente.home.lan"
    assert values["auth_hostname"] == "enteauth.home.lan"
    assert values["subnet"] is None


@pytest.mark.parametrize(
    "bad", ["a b.lan", "a;b.lan", "-x.lan", "x$y.lan", "a\nb.lan", "a.lan\n", ""]
)
def test_hostnames_that_could_break_configs_are_refused(bad):
    with pytest.raises(ValueProblem):
        hostname(bad)


def test_non_ascii_hostname_becomes_its_a_label():
    assert hostname("bücher.example.org") == "xn--bcher-kva.example.org"


def test_image_override_map():
    overrides = {
        "ghcr.io/ente/server": "registry.lan/ente/server",
        "postgres:15-trixie": "local/pg:15",
        "quay.io/": "mirror.lan/quay/",
    }
    assert (
        resolve_image("ghcr.io/ente/server:abc123", overrides) == "registry.lan/ente/server:abc123"
    )
    assert resolve_image("postgres:15-trixie", overrides) == "local/pg:15"
    assert (
        resolve_image("quay.io/minio/minio:RELEASE.x", overrides)
        == "mirror.lan/quay/minio/minio:RELEASE.x"
    )
    assert resolve_image("alpine/socat:latest", overrides) == "alpine/socat:latest"
    assert (
        resolve_image("ghcr.io/ente/server:1", {"ghcr.io/ente/server": "x/y:pinned"})
        == "x/y:pinned"
    )
