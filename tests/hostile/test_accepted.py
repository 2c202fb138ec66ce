"""The other side of the corpus: values close to the refused ones that must still work."""

from __future__ import annotations

import pytest

from stackctl import values
from stackctl.values import Field, ValueProblem


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("hostname", "bücher.test.lan", "xn--bcher-kva.test.lan"),
        ("hostname", "1password.test.lan", "1password.test.lan"),
        ("hostname", "ENTE.Test.lan.", "ente.test.lan"),
        ("host", "172.17.0.1", "172.17.0.1"),
        ("host", "mail.test.lan", "mail.test.lan"),
        ("subnet", "10.213.0.0/16", "10.213.0.0/16"),
        ("subnet", "172.31.255.240/28", "172.31.255.240/28"),
        ("subnet", "192.168.77.0/24", "192.168.77.0/24"),
        ("cidr", "172.16.0.0/12", "172.16.0.0/12"),
        ("path", "/srv/data-1/ente_x.y", "/srv/data-1/ente_x.y"),
    ],
)
def test_a_good_value_is_kept(kind, value, expected):
    assert values.KINDS[kind](value) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("cidr", "127.0.0.0/8"),
        ("cidr", "169.254.0.0/16"),
        ("cidr", "0.0.0.0/8"),
        ("cidr", "240.0.0.0/4"),
        ("cidr", "172.32.0.0/16"),
        ("subnet", "10.0.0.0/32"),
        ("subnet", "10.0.0.0/15"),
        ("hostname", "8.8.8.8"),
        ("hostname", "ente\u200b.test.lan"),
        ("path", "/srv/a:b"),
    ],
)
def test_a_value_outside_its_kind_is_refused(kind, value):
    with pytest.raises(ValueProblem):
        values.KINDS[kind](value)


def test_a_list_setting_with_choices_takes_only_those():
    apps = Field("web_apps", "texts", ["auth"], choices=("auth", "photos"))
    assert apps.check(["photos", "auth"]) == ["photos", "auth"]
    for bad in (["auth", "nonsense"], "auth", [1]):
        with pytest.raises(ValueProblem):
            apps.check(bad)
