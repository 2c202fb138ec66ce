"""Settings Synapse refuses to start with while MAS delegation is on, each as the fragment that
turns it on and the key `check-synapse` names. Shared by the pure test of check-synapse and the
engine test that starts the real Synapse on each (tests/engine/test_mas_synapse.py).

What a setting needs to load at all (a password provider module, a consent folder, pysaml2 and
xmlsec1) the engine test's homeserver folder and the Synapse test image provide."""

from __future__ import annotations

REFUSED: list[tuple[str, dict, str, str]] = [
    # (case id, fragment, key check-synapse names, what Synapse's error says)
    (
        "password-login",
        {"password_config": {"enabled": True}},
        "password_config.enabled",
        "Password auth cannot be enabled",
    ),
    (
        "password-reauth",
        {"password_config": {"enabled": "only_for_reauth"}},
        "password_config.enabled",
        "Password auth cannot be enabled",
    ),
    (
        "registration",
        {"enable_registration": True, "enable_registration_without_verification": True},
        "enable_registration",
        "Registration cannot be enabled",
    ),
    (
        "user-consent",
        {"user_consent": {"version": "1.0", "template_dir": "/data/consent"}},
        "user_consent",
        "User consent cannot be enabled",
    ),
    (
        "oidc",
        {
            "oidc_providers": [
                {
                    "idp_id": "kc",
                    "idp_name": "KC",
                    "issuer": "https://kc.example/realms/x",
                    "client_id": "synapse",
                    "client_secret": "s",
                }
            ]
        },
        "oidc_providers",
        "SSO cannot be enabled",
    ),
    (
        # Synapse enables SAML only with an `sp_config` or `config_path` (then it needs pysaml2
        # and xmlsec1, which the test image has), and refuses it as SSO
        "saml",
        {"saml2_config": {"sp_config": {"allow_unknown_attributes": True}}},
        "saml2_config",
        "SSO cannot be enabled",
    ),
    (
        "cas",
        {"cas_config": {"enabled": True, "server_url": "https://cas.example/cas"}},
        "cas_config",
        "SSO cannot be enabled",
    ),
    (
        "jwt",
        {"jwt_config": {"enabled": True, "secret": "s", "algorithm": "HS256"}},
        "jwt_config",
        "SSO cannot be enabled",
    ),
    (
        "password-provider",
        {"password_providers": [{"module": "stackctl_test_provider.Provider", "config": {}}]},
        "password_providers",
        "Password auth providers cannot be enabled",
    ),
    (
        "captcha",
        {
            "enable_registration_captcha": True,
            "recaptcha_public_key": "p",
            "recaptcha_private_key": "q",
        },
        "enable_registration_captcha",
        "CAPTCHA cannot be enabled",
    ),
    (
        "existing-session",
        {"login_via_existing_session": {"enabled": True}},
        "login_via_existing_session.enabled",
        "Login via existing session cannot be enabled",
    ),
    (
        "refresh-lifetime",
        {"refresh_token_lifetime": "24h"},
        "refresh_token_lifetime",
        "refresh_token_lifetime cannot be set",
    ),
    (
        "nonrefreshable-lifetime",
        {"nonrefreshable_access_token_lifetime": "24h"},
        "nonrefreshable_access_token_lifetime",
        "nonrefreshable_access_token_lifetime cannot be set",
    ),
    (
        "session-lifetime",
        {"session_lifetime": "24h"},
        "session_lifetime",
        "session_lifetime cannot be set",
    ),
    (
        "3pid-changes",
        {"enable_3pid_changes": True},
        "enable_3pid_changes",
        "enable_3pid_changes cannot be enabled",
    ),
    (
        "msc3861",
        {
            "experimental_features": {
                "msc3861": {
                    "enabled": True,
                    "issuer": "http://mas:8080/",
                    "client_id": "0000000000000000000SYNAPSE",
                    "client_auth_method": "client_secret_basic",
                    "client_secret": "x",
                    "admin_token": "y",
                }
            }
        },
        "experimental_features.msc3861",
        "experimental_features.msc3861 was removed",
    ),
]

# Accepted with delegation on: what an ordinary homeserver.yaml holds, and explicit "off"s.
ACCEPTED: list[tuple[str, dict]] = [
    ("plain", {}),
    (
        "explicit-offs",
        {
            "password_config": {"enabled": False},
            "enable_registration": False,
            "enable_3pid_changes": False,
            "login_via_existing_session": {"enabled": False},
        },
    ),
    # a SAML section Synapse does not enable: switched off, or with no service-provider config
    (
        "saml-disabled",
        {"saml2_config": {"enabled": False, "sp_config": {"allow_unknown_attributes": True}}},
    ),
    ("saml-without-sp-config", {"saml2_config": {"idp_name": "Corporate SAML"}}),
    (
        "unrelated",
        {"max_upload_size": "50M", "url_preview_enabled": False, "presence": {"enabled": False}},
    ),
]
