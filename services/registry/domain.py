"""Rules of the administrative tree: which level sits under which, and what a compound may be.

A district is the tenant: it is the root of its own tree, and every area below it
carries the district's id, so one district's data never mixes with another's.
"""

from __future__ import annotations

from linli.shared.errors import ValidationFailed

LEVELS = ("district", "street", "community", "compound", "building", "grid")
PARENT_LEVEL = {
    "district": None,
    "street": "district",
    "community": "street",
    "compound": "community",
    "building": "compound",
    "grid": "community",
}
COMPOUND_KINDS = ("managed", "three_no", "resettlement", "old")
# The level that owns a big party committee (大党委).
COMMITTEE_LEVEL = "community"


def check_placement(level: str, parent_level: str | None, kind: str | None) -> None:
    """Raise unless an area of `level` (and `kind`) may sit under a parent of `parent_level`."""
    expected = PARENT_LEVEL[level]
    if expected is None and parent_level is not None:
        raise ValidationFailed.field("parent_id", "a district has no parent")
    if expected is not None and parent_level != expected:
        raise ValidationFailed.field("parent_id", f"a {level} must sit under a {expected}")
    check_kind(level, kind)


def check_kind(level: str, kind: str | None) -> None:
    """Raise unless `kind` fits `level`: compounds have one of COMPOUND_KINDS, other areas none."""
    if level == "compound" and kind not in COMPOUND_KINDS:
        raise ValidationFailed.field("kind", f"a compound's kind is one of {', '.join(COMPOUND_KINDS)}")
    if level != "compound" and kind is not None:
        raise ValidationFailed.field("kind", "only compounds have a kind")



# --- Organizations (单位 / 组织) ----------------------------------------------------------------------

ORGANIZATION_KINDS = (
    "government_agency",  # 机关
    "soe",  # 国企
    "school",  # 学校
    "hospital",  # 医院
    "police_station",  # 派出所
    "enterprise",  # 企业
    "social_organization",  # 社会组织
    "property_company",  # 物业公司
    "owners_committee",  # 业委会
    "party_branch",  # 党支部
)


def organization_district(actor_district: str | None, asked: str | None) -> str:
    """The district a new organization belongs to: the caller's own, or the one an operator names.

    `actor_district` is None for an operator, who must name the district; a district client may
    name only its own.
    """
    if actor_district is None:
        if asked is None:
            raise ValidationFailed.field("district_id", "an operator names the organization's district")
        return asked
    if asked is not None and asked != actor_district:
        raise ValidationFailed.field("district_id", "not your district")
    return actor_district
