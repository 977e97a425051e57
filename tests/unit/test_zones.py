"""One check of time zone names for every service."""

from __future__ import annotations

import marshmallow as ma
import pytest

from linli.services.registry.schemas import _time_zone
from linli.services.rotation.usecases import _check_zone
from linli.shared.errors import ValidationFailed
from linli.shared.zones import check_time_zone

NOT_ZONES = ["Mars/Olympus", "../etc/passwd", "", "UTC+8", "asia/shanghai", "localtime", "Factory", "posixrules"]


@pytest.mark.parametrize("zone", NOT_ZONES)
def test_only_iana_names_are_time_zones(zone):
    with pytest.raises(ValueError):
        check_time_zone(zone)


def test_an_iana_name_gives_its_zone():
    assert check_time_zone("Asia/Shanghai").key == "Asia/Shanghai"
    assert check_time_zone("Europe/Berlin").key == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["localtime", "Factory"])
def test_registry_and_rotation_refuse_what_notify_refuses(zone):
    with pytest.raises(ma.ValidationError):
        _time_zone(zone)
    with pytest.raises(ValidationFailed):
        _check_zone(zone)
