"""`stackctl proxy` and `stackctl host-snippets` through the real CLI entry point."""

from __future__ import annotations

import pytest

from stackctl.recipe import all_recipes

pytestmark = pytest.mark.skipif("ente" not in all_recipes(), reason="needs the ente recipe")


def test_prints_the_site_dialect_with_destination_and_needs(run_cli, site_file):
    site_file('proxy = "apache"')
    result = run_cli("proxy", "ente")
    assert result.exit_code == 0, result.stderr
    assert "# ==> /etc/apache2/sites-available/stackctl-ente.conf (apache)" in result.stdout
    assert "<VirtualHost *:443>" in result.stdout
    assert "a2enmod proxy proxy_http proxy_wstunnel headers ssl remoteip rewrite" in result.stderr


def test_all_dialects(run_cli, site_file):
    site_file()
    result = run_cli("proxy", "ente", "--all-dialects")
    assert result.exit_code == 0, result.stderr
    for marker in (
        "server {",
        "<VirtualHost",
        "reverse_proxy",
        "backend stackctl_",
        "routers:",
        "<rewrite>",
        "ssl_preread on;",
    ):
        assert marker in result.stdout


def test_unknown_dialect_is_a_clear_error(run_cli, site_file):
    site_file()
    result = run_cli("proxy", "ente", "--dialect", "lighttpd")
    assert result.exit_code != 0
    assert "unknown proxy dialect 'lighttpd'" in result.stderr


def test_write_plans_then_writes(run_cli, site_file, tmp_path):
    site_file('proxy = "nginx"')
    root = tmp_path / "root"
    first = run_cli("proxy", "ente", "--write", "--root", str(root))
    assert first.exit_code == 0, first.stderr
    site_conf = root / "etc/nginx/sites-available/stackctl-ente.conf"
    assert site_conf.is_file() and (root / "etc/nginx/conf.d/stackctl-common.conf").is_file()
    assert "create" in first.stdout
    again = run_cli("proxy", "ente", "--write", "--root", str(root))
    assert "identical" in again.stdout and "create" not in again.stdout
    site_conf.write_text(site_conf.read_text() + "# hand edit\n")
    edited = run_cli("proxy", "ente", "--write", "--root", str(root))
    assert edited.exit_code == 3 and "differ from what stackctl would write" in edited.stderr


def test_host_snippets(run_cli, site_file):
    site_file()
    result = run_cli("host-snippets", "ente")
    assert result.exit_code == 0, result.stderr
    assert "RELAY" in result.stdout and "mynetworks = <current value> 10.213." in result.stdout
    assert "apachectl -k graceful" in result.stdout and "postfix reload" in result.stdout
