"""Rules of the administrative tree: which level sits under which, and what a compound may be.

A district is the tenant: it is the root of its own tree, and every area below it
carries the district's id, so one district's data never mixes with another's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from linli.shared.errors import Conflict, ValidationFailed

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


# --- Area details: what a compound and a building are like -----------------------------------------

MANAGEMENT_MODES = ("property_company", "red_property", "self_managed", "soe_fallback", "none")
COMPOUND_DETAILS = ("management_mode", "households", "residents", "year_built", "property_company_id",
                    "owners_committee_id")
BUILDING_DETAILS = ("units", "floors")
DETAILS = COMPOUND_DETAILS + BUILDING_DETAILS
COUNTS = ("households", "residents", "units", "floors")
# Chongqing's oldest lived-in compounds go back to the late Qing; anything earlier is a typing slip.
FIRST_YEAR_BUILT = 1850
LAST_YEAR_BUILT = 2100


def detail_errors(level: str, kind: str | None, details: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with an area's details as they would stand (unset ones None), by field.

    Compounds carry the compound facts and buildings the building facts; a three-no compound
    (三无小区) has, by definition, no property company, no owners' committee and so no
    property-company management.
    """
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name in DETAILS:
        value = details.get(name)
        if value is None:
            continue
        if name in COMPOUND_DETAILS and level != "compound":
            fail(name, "only compounds have this")
        elif name in BUILDING_DETAILS and level != "building":
            fail(name, "only buildings have this")
        elif name in COUNTS and value < 0:
            fail(name, "must not be negative")
    mode = details.get("management_mode")
    if mode is not None and mode not in MANAGEMENT_MODES:
        fail("management_mode", f"one of {', '.join(MANAGEMENT_MODES)}")
    year = details.get("year_built")
    if year is not None and not FIRST_YEAR_BUILT <= year <= LAST_YEAR_BUILT:
        fail("year_built", f"between {FIRST_YEAR_BUILT} and {LAST_YEAR_BUILT}")
    if level == "compound" and kind == "three_no":
        if details.get("property_company_id") is not None:
            fail("property_company_id", "a three-no compound has no property company")
        if details.get("owners_committee_id") is not None:
            fail("owners_committee_id", "a three-no compound has no owners' committee")
        if mode == "property_company":
            fail("management_mode", "a three-no compound is not managed by a property company")
    return errors


def check_details(level: str, kind: str | None, details: Mapping[str, Any]) -> None:
    """Raise unless the details fit the area (see `detail_errors`)."""
    errors = detail_errors(level, kind, details)
    if errors:
        raise ValidationFailed(f"invalid details: {', '.join(sorted(errors))}", errors=errors)

# --- Moving areas and grid coverage ------------------------------------------------------------------

# What a grid (网格) covers: compounds, or single buildings of a compound split between grids.
COVERABLE_LEVELS = ("compound", "building")


def check_move(level: str, kind: str | None, new_parent_level: str, *, under_itself: bool) -> None:
    """Raise unless an area may move under a parent of `new_parent_level`; placement is as for creation.

    `under_itself`: the new parent is the area or one of its descendants, which would cut the subtree
    off the tree (a nonsense change, so a conflict rather than a bad field).
    """
    if under_itself:
        raise Conflict("an area cannot move under itself or its own descendant",
                       errors={"parent_id": ["is the area itself or one of its descendants"]})
    check_placement(level, new_parent_level, kind)


def coverable_error(level: str, community_id: object, grid_community_id: object) -> str | None:
    """Why a grid of `grid_community_id` cannot cover an area of `level` in `community_id`; None if it can."""
    if level not in COVERABLE_LEVELS:
        return f"a grid covers compounds and buildings, not a {level}"
    if community_id != grid_community_id:
        return "not in the grid's community"
    return None
