"""The host-requirements table names the package to install for every missing file."""

from tests import host_requirements as req


def test_a_missing_module_is_reported_with_its_package(monkeypatch):
    gone = req.Need("/nonexistent/ngx_stream_module.so", "libnginx-mod-stream", "proxies", "x")
    there = req.Need("/bin/sh", "dash", "proxies", "y")
    monkeypatch.setattr(req, "NEEDS", (gone, there))
    assert req.missing(("proxies",)) == [gone]
    text = req.report(req.missing(("proxies",)))
    assert "missing package libnginx-mod-stream: /nonexistent/ngx_stream_module.so" in text
    assert "apt-get install --no-install-recommends libnginx-mod-stream\n" in text
    assert "dash" not in text


def test_cli_exit_codes(monkeypatch, capsys):
    monkeypatch.setattr(req, "NEEDS", (req.Need("/nonexistent/x", "pkg-x", "images", "z"),))
    assert req.main(["missing"]) == 0 and capsys.readouterr().out == "pkg-x\n"
    assert req.main(["check", "proxies"]) == 0  # nothing of that group is missing
    assert req.main(["check"]) == 1 and "pkg-x" in capsys.readouterr().err
    assert req.main(["check", "nonsense"]) == 2


def test_the_stream_module_is_required_for_the_proxy_tests():
    by_path = {n.path: n.package for n in req.NEEDS if n.group == "proxies"}
    assert by_path[req.NGINX_STREAM_MODULE] == "libnginx-mod-stream"
    assert by_path[f"{req.APACHE_MODULE_DIR}/mod_proxy_wstunnel.so"] == "apache2-bin"
