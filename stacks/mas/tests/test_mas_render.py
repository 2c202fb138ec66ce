"""The MAS recipe rendered purely: compose, MAS's config.yaml, Synapse's files in both modes,
the proxy routes in every dialect, the secret files' formats, and the recipe's own kinds."""

from __future__ import annotations

import pytest
import yaml

from stackctl import proxy
from stackctl.bootstrap import active_steps
from stackctl.network import layout
from stackctl.paths import stacks_dir
from stackctl.recipe import get_recipe
from stackctl.recipe_module import load
from stackctl.render import StackInputs, base_context, render_stack, stack_vhosts
from stackctl.secret_files import FILE_FORMATS
from stackctl.secret_files import check as check_secret_file
from stackctl.settings import parse_site, stack_settings
from stackctl.values import ValueProblem

kinds = load(stacks_dir() / "mas")  # the recipe's own kinds (stacks/mas/kinds.py)

SSO = {"enabled": True, "issuer": "https://sso.example.lan/realms/home"}
MAIL = {"relay_host": "mail.example.lan", "relay_port": 587, "username": "mas"}
SECRETS = {
    "MAS_ENCRYPTION": "ab" * 32,
    "MATRIX_SECRET": "S" * 32,
    "DB_PASS": "db-pass",
    "SYNAPSE_DB_PASS": "synapse-pass",
    "SSO_CLIENT_SECRET": "client-secret",
    "SMTP_PASSWORD": "smtp-pass",
}
SUBNET = "172.21.9.0/24"


def make(stack_raw=None, sso=True, mail=True):
    raw = {"domain": "example.lan", "stacks": {"mas": stack_raw or {}}}
    if sso:
        raw["sso"] = SSO
    if mail:
        raw["mail"] = MAIL
    site = parse_site(raw)
    recipe = get_recipe("mas")
    return recipe, site, stack_settings(site, "mas", recipe.settings, ["mas"])


def render(stack_raw=None, sso=True, mail=True):
    recipe, site, settings = make(stack_raw, sso, mail)
    plan = layout("mas.lan", SUBNET, recipe.network.fixed_ips, "pool")
    files = render_stack(StackInputs(recipe, site, settings, plan, SECRETS, {}))
    return {f.path: f.content for f in files}


def config(stack_raw=None, **kw):
    return yaml.safe_load(render(stack_raw, **kw)["mas/config.yaml"])


def compose(stack_raw=None):
    return yaml.safe_load(render(stack_raw)["docker-compose.yml"])["services"]


def test_services_and_pinned_images_with_synapse_in_the_stack():
    services = compose()
    assert sorted(services) == ["db", "mas", "synapse", "synapse-db"]
    assert services["mas"]["image"] == "ghcr.io/element-hq/matrix-authentication-service:1.24.0"
    assert services["synapse"]["image"] == "matrixdotorg/synapse:v1.163.2"
    db = services["db"]["environment"]
    assert (db["POSTGRES_USER"], db["POSTGRES_DB"]) == ("mas", "mas")
    assert "--lc-collate=C" in services["synapse-db"]["environment"]["POSTGRES_INITDB_ARGS"]


def test_mas_reads_each_file_mounted_alone_and_is_published_on_loopback_only():
    mas = compose()["mas"]
    assert mas["environment"]["MAS_CONFIG"] == "/etc/mas/config.yaml"
    mounts = mas["volumes"]
    assert "./mas/config.yaml:/etc/mas/config.yaml:ro" in mounts
    for key in ("rsa", "ec-p256", "ec-p384", "ec-k256"):
        assert f"./mas/keys/{key}.pem:/etc/mas/keys/{key}.pem:ro" in mounts
    assert sorted(mas["ports"]) == ["127.0.0.1:8380:8080", "127.0.0.1:8381:8081"]
    assert "healthcheck" not in mas  # no shell or curl in the image: probed from the host


def test_existing_synapse_drops_the_synapse_services():
    services = compose({"synapse": "existing", "synapse_endpoint": "http://172.17.0.1:8008/"})
    assert sorted(services) == ["db", "mas"]


def test_config_http_listens_on_all_addresses_with_every_resource_and_trusts_the_subnet():
    http = config()["http"]
    assert http["public_base"] == "https://auth.example.lan/"
    assert SUBNET in http["trusted_proxies"] and "127.0.0.1/8" in http["trusted_proxies"]
    web, internal = http["listeners"]
    assert [r["name"] for r in web["resources"]] == [
        "discovery",
        "human",
        "oauth",
        "compat",
        "graphql",
        "assets",
    ]
    assert web["binds"] == [{"address": "[::]:8080"}]
    assert internal["resources"] == [{"name": "health"}]
    assert internal["binds"] == [{"address": "[::]:8081"}]


def test_extra_trusted_proxies_are_added():
    http = config({"trusted_proxies": ["10.1.0.0/16"]})["http"]
    assert "10.1.0.0/16" in http["trusted_proxies"] and SUBNET in http["trusted_proxies"]


def test_config_database_matrix_and_secrets():
    found = config()
    assert found["database"] == {
        "host": "mas-db",
        "port": 5432,
        "username": "mas",
        "password": "db-pass",
        "database": "mas",
    }
    assert found["matrix"] == {
        "kind": "synapse",
        "homeserver": "example.lan",
        "endpoint": "http://mas-synapse:8008/",
        "secret": "S" * 32,
    }
    assert found["secrets"]["encryption"] == "ab" * 32
    assert [k["key_file"] for k in found["secrets"]["keys"]] == [
        "/etc/mas/keys/rsa.pem",
        "/etc/mas/keys/ec-p256.pem",
        "/etc/mas/keys/ec-p384.pem",
        "/etc/mas/keys/ec-k256.pem",
    ]
    assert all("kid" not in k for k in found["secrets"]["keys"])


def test_config_matrix_endpoint_of_an_existing_synapse():
    found = config({"synapse": "existing", "synapse_endpoint": "http://10.0.0.5:8008/"})
    assert found["matrix"]["endpoint"] == "http://10.0.0.5:8008/"


def test_email_from_the_site_mail_relay_or_dropped_without_one():
    email = config()["email"]
    assert email["transport"] == "smtp" and email["hostname"] == "mail.example.lan"
    assert (email["port"], email["mode"], email["username"]) == (587, "starttls", "mas")
    assert email["password"] == "smtp-pass"
    assert config(mail=False)["email"] == {"transport": "blackhole"}


def test_upstream_oauth2_provider_for_keycloak():
    (provider,) = config()["upstream_oauth2"]["providers"]
    assert provider["id"] == "01J0STACKCT1KEYC10AK0MAS00"
    assert provider["issuer"] == SSO["issuer"]
    assert provider["token_endpoint_auth_method"] == "client_secret_basic"
    assert provider["scope"] == "openid profile email"
    assert provider["client_secret"] == "client-secret"
    localpart = provider["claims_imports"]["localpart"]
    assert localpart == {"action": "require", "template": "{{ user.preferred_username }}"}
    assert "upstream_oauth2" not in config(sso=False)
    assert "upstream_oauth2" not in config({"sso": False})


def test_the_stack_synapse_delegates_with_the_secret_file_and_passes_check_synapse():
    files = render()
    homeserver = yaml.safe_load(files["synapse/homeserver.yaml"])
    assert homeserver["matrix_authentication_service"] == {
        "enabled": True,
        "endpoint": "http://mas-mas:8080/",
        "secret_path": "/config/mas_secret",
    }
    assert homeserver["server_name"] == "example.lan"
    assert homeserver["public_baseurl"] == "https://matrix.example.lan/"
    assert files["synapse/mas_secret"].strip() == "S" * 32
    assert kinds.synapse_refusals(homeserver) == []
    synapse = compose()["synapse"]
    assert "./synapse/mas_secret:/config/mas_secret:ro" in synapse["volumes"]
    assert synapse["environment"]["SYNAPSE_CONFIG_PATH"] == "/config/homeserver.yaml"


def test_an_existing_synapse_gets_the_block_and_the_secret_file_only():
    files = render({"synapse": "existing", "synapse_endpoint": "http://10.0.0.5:8008/"})
    assert "synapse/homeserver.yaml" not in files
    block = yaml.safe_load(files["synapse/mas.yaml"])["matrix_authentication_service"]
    assert block == {
        "enabled": True,
        "endpoint": "http://127.0.0.1:8380/",
        "secret_path": "/data/mas_secret",
    }
    assert files["synapse/mas_secret"].strip() == "S" * 32


def test_bootstrap_steps_per_synapse_mode():
    recipe, site, settings = make()
    ids = [s.id for s in active_steps(recipe, base_context(recipe, site, settings))]
    assert ids == [
        "mas-config-owner",
        "synapse-files-owner",
        "synapse-data-owner",
        "config-check",
        "health",
        "admin",
        "doctor",
    ]
    recipe, site, settings = make({"synapse": "existing"})
    ids = {s.id for s in active_steps(recipe, base_context(recipe, site, settings))}
    assert "synapse-secret-owner" in ids and "synapse-files-owner" not in ids


def _routes(stack_raw=None):
    recipe, site, settings = make(stack_raw)
    return {v.name: v for v in stack_vhosts(recipe, site, settings)}


def test_routes_send_compat_logins_to_mas_before_the_synapse_catch_all():
    hosts = _routes()
    assert [(loc.path, loc.upstream) for loc in hosts["auth"].locations] == [
        ("/", "127.0.0.1:8380")
    ]
    compat, synapse = hosts["homeserver"].locations
    assert compat.pattern and compat.upstream == "127.0.0.1:8380"
    assert compat.path == "^/_matrix/client/(.*)/(login|logout|refresh)"
    assert synapse.pattern and synapse.upstream == "127.0.0.1:8018"
    assert synapse.path == "^(/_matrix|/_synapse/client|/_synapse/mas)"
    assert synapse.max_body == "50m"
    (well_known,) = hosts["server-name"].locations
    assert (well_known.path, well_known.upstream) == (
        "/.well-known/matrix/client",
        "127.0.0.1:8018",
    )


def test_routes_to_an_existing_synapse_and_without_the_well_known_host():
    hosts = _routes({"synapse": "existing", "synapse_upstream": "10.0.0.5:8008"})
    assert hosts["homeserver"].locations[1].upstream == "10.0.0.5:8008"
    assert "server-name" not in _routes({"well_known": False})


@pytest.mark.parametrize("dialect", proxy.DIALECTS)
def test_every_dialect_renders_the_routes(dialect):
    recipe, site, settings = make()
    vhosts = stack_vhosts(recipe, site, settings)
    try:
        files = proxy.render(vhosts, dialect, proxy.site_from(site), "mas")
    except Exception as exc:  # a dialect that cannot express a regex location says so
        pytest.fail(f"{dialect}: {exc}")
    text = "\n".join(files.values())
    assert "auth.example.lan" in text and "matrix.example.lan" in text
    assert "login|logout|refresh" in text and "8380" in text and "8018" in text


@pytest.mark.parametrize("dialect", ["nginx", "apache"])
def test_nginx_and_apache_match_the_compat_paths_first(dialect):
    recipe, site, settings = make()
    files = proxy.render(
        stack_vhosts(recipe, site, settings), dialect, proxy.site_from(site), "mas"
    )
    text = "\n".join(files.values())
    assert text.index("login|logout|refresh") < text.index("/_synapse/mas")


def test_secret_files_are_mas_formats_readable_by_65532_only():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    recipe = get_recipe("mas")
    made = {}
    for spec in recipe.secret_files:
        assert (spec.mode, spec.uid, spec.gid) == (0o600, 65532, 65532)
        data = FILE_FORMATS[spec.format].generate(spec)
        assert check_secret_file(spec, data) is None
        made[spec.name] = (data, serialization.load_pem_private_key(data, None))
    data, key = made["MAS_KEY_RSA"]
    assert data.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    for name, curve in (
        ("MAS_KEY_P256", "secp256r1"),
        ("MAS_KEY_P384", "secp384r1"),
        ("MAS_KEY_K256", "secp256k1"),
    ):
        data, key = made[name]
        assert data.startswith(b"-----BEGIN EC PRIVATE KEY-----\n")
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == curve


def test_encryption_secret_is_64_hex_and_critical():
    recipe = get_recipe("mas")
    spec = recipe.secret("MAS_ENCRYPTION")
    assert (spec.format, spec.bytes) == ("hex", 32) and spec.critical
    from stackctl.secrets import generate

    value = generate(spec)
    assert len(value) == 64 and int(value, 16) >= 0


def test_provider_id_must_be_a_ulid():
    assert kinds.ulid("01J0STACKCT1KEYC10AK0MAS00") == "01J0STACKCT1KEYC10AK0MAS00"
    for bad in (
        "01J0STACKCT1KEYC10AK0MAS0",
        "01J0STACKCT1KEYC10AK0MASOI",
        "81J0STACKCT1KEYC10AK0MAS00",
    ):
        with pytest.raises(ValueProblem):
            kinds.ulid(bad)


def test_keycloak_client_redirects_to_the_provider_callback():
    recipe, site, settings = make()
    client = kinds.keycloak_client(settings)
    assert client["redirectUris"] == [
        "https://auth.example.lan/upstream/callback/01J0STACKCT1KEYC10AK0MAS00"
    ]
    assert client["publicClient"] is False and client["clientId"] == "matrix-authentication-service"


def test_user_ids_come_from_register_user_lines():
    output = (
        "2026-11-30T09:00:00Z  INFO mas_cli::commands::manage:936 User registered "
        "user.id=01JABCDEFGHJKMNPQRSTVWXYZ0\n"
        "2026-11-30T09:00:00Z  WARN other line user.id=01JZZZZZZZZZZZZZZZZZZZZZZZ\n"
    )
    assert kinds.user_ids(output) == ["01JABCDEFGHJKMNPQRSTVWXYZ0"]
