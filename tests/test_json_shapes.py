"""Machine-readable output: `--json` where a script needs it, one shape for one or many,
and `proxy --write` installing where `plan` and `deploy` look (proxy_root)."""

from __future__ import annotations

import json

import pytest

from stackctl.recipe import all_recipes

pytestmark = pytest.mark.skipif("ente" not in all_recipes(), reason="needs the ente recipe")


def test_secrets_gen_json_names_what_was_created_and_kept(run_cli, site_file):
    site_file()
    first = json.loads(run_cli("secrets", "gen", "ente", "--json").stdout)
    assert [r["stack"] for r in first] == ["ente"]
    assert "ENTE_KEY_ENCRYPTION" in first[0]["created"]
    assert "ENTE_KEY_ENCRYPTION" not in first[0]["kept"]
    again = json.loads(run_cli("secrets", "gen", "ente", "--json").stdout)
    assert again[0]["created"] == [] and "ENTE_KEY_ENCRYPTION" in again[0]["kept"]
    assert "=" not in json.dumps(again)  # names only, never a value


def test_host_snippets_json(run_cli, site_file):
    site_file()
    shown = json.loads(run_cli("host-snippets", "ente", "--json").stdout)
    assert shown["subnet"].startswith("10.213.") and shown["network"].endswith("ente.lan")
    assert any(name.endswith("ente-museum") for name in shown["ips"])
    assert "RELAY" in shown["text"]


def test_proxy_json_holds_files_destinations_and_needs(run_cli, site_file):
    site_file('proxy = "nginx"')
    (shown,) = json.loads(run_cli("proxy", "ente", "--json").stdout)
    assert shown["dialect"] == "nginx" and shown["written"] == []
    places = {f["destination"] for f in shown["files"]}
    assert "/etc/nginx/sites-available/stackctl-ente.conf" in places
    assert all("server" in f["text"] or "map" in f["text"] for f in shown["files"])
    assert shown["needs"]


def test_proxy_write_installs_under_proxy_root_where_plan_looks(run_cli, site_file, tmp_path):
    site_file('proxy = "nginx"')
    root = tmp_path / "proxyroot"  # the site's proxy_root
    (root / "etc/nginx").mkdir(parents=True)
    (written,) = json.loads(run_cli("proxy", "ente", "--write", "--json").stdout)
    conf = root / "etc/nginx/sites-available/stackctl-ente.conf"
    assert {"path": str(conf), "action": "create"} in written["written"]
    assert conf.is_file()
    run_cli("secrets", "gen", "ente")
    (plan,) = json.loads(run_cli("plan", "ente", "--json").stdout)
    actions = {f["path"]: f["action"] for f in plan["files"]}
    assert actions[str(conf)] == "identical"  # plan reads the file --write installed
    conf.write_text(conf.read_text() + "# hand edit\n")
    refused = run_cli("proxy", "ente", "--write")
    assert refused.exit_code == 3
    assert "stackctl plan ente --diff" in refused.stderr and str(root) in refused.stderr


def test_deploy_json_is_a_list_for_one_stack_too(run_cli, site_file):
    site_file()
    result = run_cli("deploy", "ente", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout[result.stdout.index("[\n") :])
    assert isinstance(shown, list) and [r["stack"] for r in shown] == ["ente"]


def test_plan_json_is_a_list_for_one_stack_too(run_cli, site_file):
    site_file()
    result = run_cli("plan", "ente", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert isinstance(shown, list) and [p["stack"] for p in shown] == ["ente"]
