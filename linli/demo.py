"""Demo data for the embedded mode, entered through the public APIs like any client would."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from linli.shared.logs import get_logger

if TYPE_CHECKING:
    from linli.embedded import Suite

log = get_logger(__name__)


class _Client:
    def __init__(self, suite: Suite, service: str, token: str) -> None:
        self.client = suite.apps[service].test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=self.headers)
        if response.status_code != 201:
            raise RuntimeError(f"demo: POST {path} answered {response.status_code}: {response.get_json()}")
        return response.get_json()

    def act(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A state change (`POST .../confirm`, `.../hold`), which answers 200 with the changed thing."""
        response = self.client.post(path, json=body or {}, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"demo: POST {path} answered {response.status_code}: {response.get_json()}")
        return response.get_json()

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.put(path, json=body, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"demo: PUT {path} answered {response.status_code}: {response.get_json()}")
        return response.get_json()

    def get(self, path: str) -> dict[str, Any]:
        return self.client.get(path, headers=self.headers).get_json()

    def wait_until_known(self, path: str, ident: str, timeout: float = 10.0) -> bool:
        """Events cross asynchronously; wait until this service's read model has the entity."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(item["id"] == ident for item in self.get(path).get("items", [])):
                return True
            time.sleep(0.05)
        return False


_NEIGHBOURS = """level,name,parent,kind,management_mode,households
community,唐城社区,中山路街道,,,
compound,唐城安置小区,中山路街道/唐城社区,resettlement,soe_fallback,540
compound,唐城老街院落,中山路街道/唐城社区,three_no,self_managed,96
grid,唐城第一网格,中山路街道/唐城社区,,,
"""


def load_demo(suite: Suite) -> None:
    token = suite.operator_token(ttl_seconds=600)
    registry = _Client(suite, "registry", token)
    if registry.get("/v1/areas?limit=1")["items"]:
        return  # the data folder already holds data
    district = registry.post("/v1/areas", {"level": "district", "name": "永川区"})
    street = registry.post("/v1/areas", {"level": "street", "name": "中山路街道", "parent_id": district["id"]})
    community = registry.post("/v1/areas", {"level": "community", "name": "星光社区", "parent_id": street["id"]})
    xingguang = registry.post("/v1/areas", {"level": "compound", "name": "星光小区", "kind": "three_no",
                                            "parent_id": community["id"], "management_mode": "red_property",
                                            "households": 312, "residents": 870, "year_built": 1994})
    building = registry.post("/v1/areas", {"level": "building", "name": "3栋", "parent_id": xingguang["id"],
                                           "units": 2, "floors": 7})
    xinglonghu = registry.post("/v1/areas", {"level": "compound", "name": "兴龙湖小区", "kind": "managed",
                                             "parent_id": community["id"], "management_mode": "property_company",
                                             "households": 1260, "residents": 3500, "year_built": 2012})
    grid = registry.post("/v1/areas", {"level": "grid", "name": "星光第一网格", "parent_id": community["id"]})
    registry.put(f"/v1/areas/{grid['id']}/coverage", {"area_ids": [xingguang["id"], xinglonghu["id"]]})
    # A neighbouring community, as a district clerk would bring it in: one CSV file, one transaction.
    imported = registry.client.post("/v1/areas/import", data=_NEIGHBOURS.encode(), query_string={
        "district_id": district["id"]}, headers={**registry.headers, "Content-Type": "text/csv"})
    if imported.status_code != 201:
        raise RuntimeError(f"demo: area import answered {imported.status_code}: {imported.get_json()}")
    committee = registry.post("/v1/committees", {"community_id": community["id"], "name": "星光社区大党委",
                                                 "convenor_name": "张书记"})
    hospital_id = _load_units(registry, district["id"], committee["id"], xingguang["id"])
    doctor, _ = _load_members(registry, xingguang["id"], building["id"], hospital_id)
    registry.post("/v1/organizations", {"kind": "party_branch", "name": "星光小区党支部", "district_id": district["id"],
                                        "area_id": xingguang["id"]})
    # The doctor reports to the compound's branch (报到), which confirms; the teacher has yet to.
    check_in = registry.post("/v1/check-ins", {"member_id": doctor["id"]})
    registry.act(f"/v1/check-ins/{check_in['id']}/confirm")
    _load_activity(registry, hospital_id, xingguang["id"], doctor["id"])

    tickets = _Client(suite, "tickets", token)
    if tickets.wait_until_known("/v1/compounds", xingguang["id"]):
        tickets.post("/v1/tickets", {
            "compound_id": xingguang["id"],
            "title": "3栋楼道灯坏了",
            "description": "3栋2单元楼道灯已坏一周，晚上老人上下楼不便。",
            "category": "general",
            "reporter_name": "王阿姨",
            "reporter_phone": "13812345678",
        })
    else:
        log.warning("demo_ticket_skipped", reason="tickets did not learn the compound in time")

    rotation = _Client(suite, "rotation", token)
    if rotation.wait_until_known("/v1/committees", committee["id"]):
        today = date.today()
        rotation.post("/v1/rotations", {"committee_id": committee["id"], "term_months": 3,
                                        "starts_on": today.replace(day=1).isoformat()})
        # Joint meetings on the second Tuesday of each quarter's first month, convened by the party secretary.
        rotation.put(f"/v1/committees/{committee['id']}/meeting-rule", {
            "rrule": "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=2TU", "starts_on": today.replace(day=1).isoformat(),
            "local_time": "14:30", "place": "星光社区党群服务中心"})
    else:
        log.warning("demo_rotation_skipped", reason="rotation did not learn the committee in time")
    log.info("demo_loaded", district=district["id"])


def _load_units(registry: _Client, district_id: str, committee_id: str, compound_id: str) -> str:
    """Five co-building units with their resources; one paired with the three-no compound. Returns the hospital's id."""
    hospital_id = ""
    units = [("hospital", "永川区人民医院", "medical", "每月义诊医生2名"),
             ("police_station", "中山路派出所", "public_security", "夜间巡逻民警"),
             ("school", "星光小学", "venue", "周末开放操场"),
             ("government_agency", "永川区住房和城乡建设委员会", "tree_trimming", "园林绿化修剪队"),
             ("soe", "永川区城市建设投资集团", "funds", "老旧小区改造资金")]
    for kind, name, category, offer in units:
        organization = registry.post("/v1/organizations", {
            "kind": kind, "name": name, "district_id": district_id, "contact_person": "联络员",
            "contact_phone": "13800000000"})
        registry.post(f"/v1/organizations/{organization['id']}/resources",
                      {"kind": category if category in ("venue", "funds") else "staff", "category": category,
                       "description": offer})
        registry.post(f"/v1/committees/{committee_id}/units", {
            "organization_id": organization["id"], "joined_on": date.today().replace(day=1).isoformat(),
            "member_name": f"{name}兼职委员"})
        if kind == "hospital":
            hospital_id = organization["id"]
            registry.post("/v1/pairings", {"organization_id": organization["id"], "compound_id": compound_id,
                                           "starts_on": date.today().replace(month=1, day=1).isoformat()})
    return hospital_id


def _load_activity(registry: _Client, host_id: str, compound_id: str, member_id: str) -> None:
    """Last Saturday's free clinic at the compound: the doctor signed up, attended and was credited 2 hours."""
    today = date.today()
    saturday = today - timedelta(days=(today.weekday() - 5) % 7 or 7)
    starts_at = datetime.combine(saturday, datetime.min.time(), tzinfo=ZoneInfo("Asia/Shanghai")) + timedelta(hours=9)
    clinic = registry.post("/v1/activities", {
        "host_organization_id": host_id, "area_id": compound_id, "title": "重阳义诊进小区", "category": "medical",
        "description": "为3栋老人测血压、测血糖，讲解慢病用药。", "place": "星光小区活动室",
        "starts_at": starts_at.isoformat(), "ends_at": (starts_at + timedelta(hours=3)).isoformat(), "capacity": 20})
    registry.post(f"/v1/activities/{clinic['id']}/sign-ups", {"member_id": member_id})
    registry.act(f"/v1/activities/{clinic['id']}/hold", {"attendees": [{"member_id": member_id, "hours": 2}],
                                                          "held_at": (starts_at + timedelta(hours=3)).isoformat()})


def _load_members(registry: _Client, compound_id: str, building_id: str, employer_id: str) -> list[dict[str, Any]]:
    """Two party members of the three-no compound: a doctor leading building 3, with a pledge, and a retired
    teacher."""
    doctor = registry.post("/v1/members", {
        "name": "刘医生", "phone": "13900000001", "compound_id": compound_id, "building_id": building_id,
        "employer_id": employer_id, "skills": ["medical", "elderly_care"], "roles": ["building_leader"]})
    teacher = registry.post("/v1/members", {
        "name": "陈老师", "phone": "13900000002", "compound_id": compound_id, "status": "retired",
        "skills": ["education", "dispute_mediation"], "roles": ["party_group_leader"]})
    registry.post(f"/v1/members/{doctor['id']}/pledges", {"text": "每月为3栋老人义诊一次"})
    return [doctor, teacher]
