"""The Mastodon recipe rendered purely: compose structure, .env.production, proxy routes."""

import re

import pytest
import yaml

from stackctl.envfile import parse_env
from stackctl.errors import RecipeError
from stackctl.network import layout
from stackctl.recipe import get_recipe
from stackctl.render import StackInputs, render_stack, stack_vhosts
from stackctl.settings import parse_site, stack_settings

SECRETS = {
    "SECRET_KEY_BASE": "a" * 128,
    "OTP_SECRET": "b" * 128,
    "VAPID_PRIVATE_KEY": "z_qGhzPeqjaDz1GldcNtz0wQ5tSID3jY7-doDXTyyMQ=",
    "VAPID_PUBLIC_KEY": "BD-NlWLlExCWk" + "A" * 70 + "IUmE=",
    "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY": "D" * 32,
    "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT": "S" * 32,
    "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY": "P" * 32,
    "DB_PASS": "dbpass0123456789",
    "POSTGRES_PASSWORD": "pgpass0123456789",
}


def site_and_settings(site_raw=None, stack_raw=None):
    raw = dict(site_raw or {})
    raw["stacks"] = {"mastodon": stack_raw or {}}
    site = parse_site(raw)
    recipe = get_recipe("mastodon")
    return site, recipe, stack_settings(site, "mastodon", recipe.settings, ["mastodon"])


def render(site_raw=None, stack_raw=None, secrets=None):
    site, recipe, settings = site_and_settings(site_raw, stack_raw)
    plan = layout("mastodon.lan", "172.21.7.0/24", recipe.network.fixed_ips, "pool")
    inputs = StackInputs(recipe, site, settings, plan, {**SECRETS, **(secrets or {})}, {})
    return {f.path: f for f in render_stack(inputs)}


def compose(**kwargs):
    return yaml.safe_load(render(**kwargs)["docker-compose.yml"].content)


def env(**kwargs):
    """.env.production as compose reads it (the strict reader follows compose's rules)."""
    return read_env_text(render(**kwargs)[".env.production"].content)


def read_env_text(text):
    return {entry.key: entry.value for entry in parse_env(text, ".env.production")}


def test_compose_follows_the_seed_with_pinned_images():
    model = compose()
    assert model["name"] == "mastodon"
    services = model["services"]
    assert set(services) == {"db", "redis", "web", "streaming", "sidekiq", "rails"}
    assert {s["container_name"] for n, s in services.items() if n != "rails"} == {
        f"mastodon-{n}" for n in ("db", "redis", "web", "streaming", "sidekiq")
    }
    assert services["web"]["image"] == "ghcr.io/mastodon/mastodon:v4.7.2"
    assert services["sidekiq"]["image"] == "ghcr.io/mastodon/mastodon:v4.7.2"
    # since 4.3 streaming has its own image and runs node directly
    assert services["streaming"]["image"] == "ghcr.io/mastodon/mastodon-streaming:v4.7.2"
    assert services["streaming"]["command"] == "node ./streaming/index.js"
    assert services["web"]["command"] == "bundle exec puma -C config/puma.rb"
    assert services["sidekiq"]["command"] == "bundle exec sidekiq"
    assert services["db"]["image"] == "postgres:17-alpine"
    assert services["redis"]["image"] == "redis:7-alpine"
    # the seed's host ports, on loopback only
    assert services["web"]["ports"] == ["127.0.0.1:3333:3000"]
    assert services["streaming"]["ports"] == ["127.0.0.1:4444:4000"]
    assert services["redis"]["ports"] == ["127.0.0.1:6380:6379"]
    assert all(p.startswith("127.0.0.1:") for s in services.values() for p in s.get("ports", []))


def test_networks_internal_and_pinned():
    model = compose()
    assert model["networks"] == {
        "mastodon.lan": {"external": True},
        "internal_network": {"internal": True},
    }
    services = model["services"]
    assert services["db"]["networks"] == ["internal_network"]
    web = services["web"]["networks"]["mastodon.lan"]
    assert web["ipv4_address"] == "172.21.7.131"  # upper half of the subnet, offset 3
    assert services["sidekiq"]["networks"]["mastodon.lan"]["ipv4_address"] == "172.21.7.132"
    assert "internal_network" in services["web"]["networks"]
    # the one-off service has no fixed address, so it can run beside web
    assert services["rails"]["networks"] == ["mastodon.lan", "internal_network"]
    assert services["rails"]["profiles"] == ["tools"]


def test_data_under_the_data_root_and_env_file():
    services = compose(site_raw={"data_root": "/srv/data"})["services"]
    assert services["db"]["volumes"] == ["/srv/data/mastodon/postgres:/var/lib/postgresql/data"]
    assert services["redis"]["volumes"] == ["/srv/data/mastodon/redis:/data"]
    media = ["/srv/data/mastodon/public/system:/mastodon/public/system"]
    assert services["web"]["volumes"] == services["sidekiq"]["volumes"] == media
    for name in ("web", "streaming", "sidekiq", "rails"):
        assert services[name]["env_file"] == ".env.production"
    assert services["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_one_setting_moves_every_mastodon_image_and_overrides_apply():
    services = compose(
        site_raw={"images": {"ghcr.io/": "registry.lan/ghcr/"}},
        stack_raw={"version": "v4.7.3", "web_port": 8333},
    )["services"]
    assert services["web"]["image"] == "registry.lan/ghcr/mastodon/mastodon:v4.7.3"
    assert services["streaming"]["image"] == "registry.lan/ghcr/mastodon/mastodon-streaming:v4.7.3"
    assert services["rails"]["image"] == services["sidekiq"]["image"] == services["web"]["image"]
    assert services["web"]["ports"] == ["127.0.0.1:8333:3000"]


@pytest.mark.parametrize(
    ("title", "healthy"),
    [
        ("sidekiq 6.5.12 mastodon [0 of 25 busy]", True),
        ("sidekiq 7.3.9 mastodon [0 of 5 busy]", True),
        ("sidekiq 8.0.4 mastodon [2 of 5 busy]", True),
        ("grep sidekiq", False),
    ],
)
def test_sidekiq_health_check_works_across_majors(title, healthy):
    test = compose()["services"]["sidekiq"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    pattern = re.search(r"grep '([^']+)'", test[1])[1]
    assert bool(re.search(pattern, f"mastodon 1 0.0 {title}")) is healthy
    assert not re.search(pattern, f"root 9 0.0 grep {pattern}")  # the grep never finds itself


def test_elasticsearch_is_an_option():
    services = compose(stack_raw={"elasticsearch": True})["services"]
    es = services["es"]
    assert es["image"] == "docker.elastic.co/elasticsearch/elasticsearch:7.17.29"
    assert es["networks"] == ["internal_network"] and "ports" not in es
    assert es["environment"]["discovery.type"] == "single-node"
    assert services["web"]["depends_on"]["es"] == {"condition": "service_healthy"}
    values = env(stack_raw={"elasticsearch": True})
    assert (values["ES_ENABLED"], values["ES_HOST"], values["ES_PORT"]) == ("true", "es", "9200")
    assert env()["ES_ENABLED"] == "false"


def test_env_production_holds_the_secrets_and_is_private():
    files = render()
    assert files[".env.production"].mode == 0o600 and files[".env.production"].secret
    values = env()
    for name in (
        "SECRET_KEY_BASE",
        "OTP_SECRET",
        "VAPID_PRIVATE_KEY",
        "VAPID_PUBLIC_KEY",
        "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
        "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
        "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
    ):
        assert values[name] == SECRETS[name]
    assert values["DB_PASS"] == SECRETS["DB_PASS"]
    assert (values["DB_HOST"], values["DB_NAME"], values["DB_USER"]) == (
        "db",
        "mastodon_production",
        "mastodon",
    )
    assert (values["REDIS_HOST"], values["REDIS_PORT"]) == ("redis", "6379")
    assert "POSTGRES_PASSWORD" not in values
    # the compose file itself holds no secret value
    assert SECRETS["DB_PASS"] not in files["docker-compose.yml"].content


def test_values_are_unquoted_for_compose():
    text = render()[".env.production"].content
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert re.fullmatch(r"[A-Z0-9_]+", key)
            assert not re.search(r"[\s\"'$#]", value), line


def test_domains():
    values = env()
    assert values["LOCAL_DOMAIN"] == "mastodon.example.lan" and "WEB_DOMAIN" not in values
    values = env(
        stack_raw={
            "local_domain": "example.lan",
            "alternate_domains": ["old.example.lan", "vm.lan"],
            "single_user_mode": True,
        }
    )
    assert values["LOCAL_DOMAIN"] == "example.lan"
    assert values["WEB_DOMAIN"] == "mastodon.example.lan"
    assert values["ALTERNATE_DOMAINS"] == "old.example.lan,vm.lan"
    assert values["SINGLE_USER_MODE"] == "true"


def test_trusted_proxies_are_loopback_the_stack_subnet_and_extras():
    assert env()["TRUSTED_PROXY_IP"] == "127.0.0.1/8,::1/128,172.21.7.0/24"
    values = env(stack_raw={"trusted_proxies": ["192.168.1.10"]})
    assert values["TRUSTED_PROXY_IP"].endswith(",192.168.1.10/32")


def test_mail_from_the_site_relay():
    assert "SMTP_SERVER" not in env()
    values = env(site_raw={"domain": "home.lan", "mail": {"relay_host": "mail.home.lan"}})
    assert values["SMTP_SERVER"] == "mail.home.lan" and values["SMTP_PORT"] == "587"
    assert values["SMTP_FROM_ADDRESS"] == "notifications@mastodon.home.lan"
    assert values["SMTP_AUTH_METHOD"] == "none" and values["SMTP_ENABLE_STARTTLS"] == "always"
    assert values["SMTP_OPENSSL_VERIFY_MODE"] == "peer"
    values = env(
        site_raw={
            "mail": {
                "relay_host": "smtp.home.lan",
                "relay_port": 465,
                "security": "tls",
                "username": "apps",
                "from_address": "toot@home.lan",
            }
        },
        stack_raw={"smtp_verify_certificate": False},
        secrets={"SMTP_PASSWORD": "p@ss w$rd"},
    )
    assert (values["SMTP_TLS"], values["SMTP_ENABLE_STARTTLS"]) == ("true", "never")
    assert (values["SMTP_LOGIN"], values["SMTP_AUTH_METHOD"]) == ("apps", "plain")
    assert values["SMTP_FROM_ADDRESS"] == "toot@home.lan"
    assert values["SMTP_OPENSSL_VERIFY_MODE"] == "none"
    # quoting keeps a password literal: no interpolation of "$", no comment at " #"
    for password in ("p@ss w$rd", "it's", "$HOME #x", "back\\slash\\"):
        assert (
            env(
                site_raw={"mail": {"relay_host": "m.lan", "username": "apps"}},
                secrets={"SMTP_PASSWORD": password},
            )["SMTP_PASSWORD"]
            == password
        )


def test_s3_is_off_unless_asked_for():
    assert env()["S3_ENABLED"] == "false"
    values = env(
        stack_raw={"s3": True, "s3_bucket": "toots", "s3_endpoint": "https://s3.example.lan"},
        secrets={"AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret"},
    )
    assert values["S3_ENABLED"] == "true" and values["S3_BUCKET"] == "toots"
    assert values["S3_ENDPOINT"] == "https://s3.example.lan"
    assert (values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]) == ("key", "secret")


SSO = {"sso": {"enabled": True, "issuer": "https://sso.example.lan/realms/home"}}


def test_oidc_from_the_site_sso_settings():
    assert not any(k.startswith("OIDC_") for k in env())
    # enabled, but the client secret is not stored yet: stays off, with the command to fix it
    values = env(site_raw=SSO)
    assert values["OIDC_ENABLED"] == "false"
    assert (
        "stackctl secrets set mastodon OIDC_CLIENT_SECRET"
        in render(site_raw=SSO)[".env.production"].content
    )
    values = env(
        site_raw={**SSO, "sso": {**SSO["sso"], "display_name": "Home SSO"}},
        secrets={"OIDC_CLIENT_SECRET": "kc-secret"},
    )
    assert values["OIDC_ENABLED"] == "true"
    assert values["OIDC_DISPLAY_NAME"] == "Home SSO"
    assert values["OIDC_ISSUER"] == "https://sso.example.lan/realms/home"
    assert values["OIDC_DISCOVERY"] == "true"
    assert values["OIDC_SCOPE"] == "openid,profile,email"
    assert values["OIDC_UID_FIELD"] == "preferred_username"
    assert (values["OIDC_CLIENT_ID"], values["OIDC_CLIENT_SECRET"]) == ("mastodon", "kc-secret")
    assert values["OIDC_REDIRECT_URI"] == (
        "https://mastodon.example.lan/auth/auth/openid_connect/callback"
    )
    assert values["OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED"] == "true"
    # a stack can opt out of the site's SSO
    off = env(site_raw=SSO, stack_raw={"sso": False}, secrets={"OIDC_CLIENT_SECRET": "x"})
    assert not any(k.startswith("OIDC_") for k in off)


def vhosts(stack_raw=None):
    site, recipe, settings = site_and_settings(None, stack_raw)
    return {v.name: v for v in stack_vhosts(recipe, site, settings)}


def test_routes_streaming_websocket_then_web_with_hsts():
    found = vhosts()
    assert set(found) == {"web"}
    web = found["web"]
    assert web.hostname == "mastodon.example.lan" and web.hsts and web.http_redirect
    streaming, rest = web.locations
    assert (streaming.path, streaming.upstream, streaming.websocket) == (
        "/api/v1/streaming",
        "127.0.0.1:4444",
        True,
    )
    assert (rest.path, rest.upstream, rest.websocket) == ("/", "127.0.0.1:3333", False)


def test_local_domain_redirects_discovery_to_the_web_domain():
    local = vhosts({"local_domain": "example.lan"})["local-domain"]
    assert local.hostname == "example.lan"
    paths = {loc.path: loc for loc in local.locations}
    for path in ("/.well-known/webfinger", "/.well-known/host-meta", "/.well-known/nodeinfo"):
        assert paths[path].redirect == "https://mastodon.example.lan"
        assert paths[path].redirect_code == 301
        assert ("Access-Control-Allow-Origin", "*") in paths[path].response_headers
    assert paths["/"].redirect_code == 302
    assert "local-domain" not in vhosts(
        {"local_domain": "example.lan", "local_domain_vhost": False}
    )
    assert "local-domain" not in vhosts({"local_domain": "mastodon.example.lan"})


@pytest.mark.parametrize("proxy", ["apache", "nginx", "caddy", "haproxy"])
def test_every_dialect_renders_the_routes(proxy):
    files = render(site_raw={"proxy": proxy}, stack_raw={"local_domain": "example.lan"})
    snippets = [f.content for path, f in files.items() if path.startswith("proxy/")]
    assert snippets and any("4444" in s for s in snippets)


def test_alternate_domains_become_aliases_of_the_web_vhost():
    from stackctl.recipe import all_recipes, get_recipe
    from stackctl.render import stack_vhosts
    from stackctl.settings import parse_site, stack_settings

    site = parse_site({"stacks": {"mastodon": {"alternate_domains": ["social.example.org"]}}})
    recipe = get_recipe("mastodon")
    settings = stack_settings(site, "mastodon", recipe.settings, list(all_recipes()))
    web = next(v for v in stack_vhosts(recipe, site, settings) if v.name == "web")
    assert web.aliases == ("social.example.org",)


HOSTILE = "$HOME #x 'q' \"d\" back\\slash é"


def test_every_value_reaches_mastodon_as_written():
    """.env.production is read by compose: `$`, ` #`, quotes and backslashes stay literal."""
    values = env(
        site_raw={
            "mail": {"relay_host": "smtp.home.lan", "username": HOSTILE},
            "sso": {**SSO["sso"], "display_name": HOSTILE},
        },
        stack_raw={"s3": True, "s3_bucket": HOSTILE, "s3_endpoint": HOSTILE},
        secrets={
            "SMTP_PASSWORD": HOSTILE,
            "AWS_ACCESS_KEY_ID": HOSTILE,
            "AWS_SECRET_ACCESS_KEY": HOSTILE + "\\",
            "OIDC_CLIENT_SECRET": HOSTILE,
        },
    )
    for key in ("SMTP_LOGIN", "SMTP_PASSWORD", "OIDC_DISPLAY_NAME", "S3_BUCKET", "S3_ENDPOINT"):
        assert values[key] == HOSTILE, key
    assert values["AWS_ACCESS_KEY_ID"] == values["OIDC_CLIENT_SECRET"] == HOSTILE
    assert values["AWS_SECRET_ACCESS_KEY"] == HOSTILE + "\\"


def test_secrets_are_only_rendered_into_files_marked_secret():
    from dataclasses import replace

    site, recipe, settings = site_and_settings()
    unmarked = replace(recipe, files=tuple(replace(f, secret=False) for f in recipe.files))
    plan = layout("mastodon.lan", "172.21.7.0/24", recipe.network.fixed_ips, "pool")
    with pytest.raises(RecipeError, match="only available in files marked `secret = true`"):
        render_stack(StackInputs(unmarked, site, settings, plan, SECRETS, {}))
