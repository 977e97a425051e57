"""A tickets service with two districts, each with a compound, and Open311 keys: what the Open311 tests start from."""

from __future__ import annotations

import uuid

from tests.support.apps import ServiceUnderTest

YONGCHUAN, BISHAN = "district-yongchuan", "district-bishan"
OPERATOR = ("*", "tickets:admin")
PHONE = "13812345678"


class World:
    """Two districts (or Yongchuan alone), each with a compound tickets knows and an Open311 key; a unit."""

    def __init__(self, sut: ServiceUnderTest, *, both_districts: bool = True) -> None:
        self.sut = sut
        self.compound = self._compound(YONGCHUAN, "星光小区")
        self.police = str(uuid.uuid4())
        assert sut.deliver("registry.organization.created", {
            "id": self.police, "district_id": YONGCHUAN, "kind": "agency", "name": "中山路派出所", "version": 1}) \
            == "applied"
        self.key = self.new_key(YONGCHUAN)["api_key"]
        if both_districts:
            self.other_compound = self._compound(BISHAN, "东林小区")
            self.other_key = self.new_key(BISHAN)["api_key"]

    def _compound(self, district: str, name: str) -> str:
        data = {"id": str(uuid.uuid4()), "district_id": district, "parent_id": str(uuid.uuid4()), "level": "compound",
                "name": name, "kind": "managed", "time_zone": "Asia/Shanghai", "version": 1}
        assert self.sut.deliver("registry.area.created", data) == "applied"
        return data["id"]

    def new_key(self, district: str, **headers: str) -> dict:
        r = self.sut.client.post("/v1/open311/keys", json={"client_name": "12345热线", "district_id": district},
                                 headers={**self.sut.as_(*OPERATOR), **headers})
        assert r.status_code == 201, r.json
        return r.json

    def post(self, fmt: str = "json", **fields: str):
        form = {"api_key": self.key, "service_code": "facilities", "address_string": "永川区星光小区3栋2单元",
                "description": "楼道灯坏了\n一周没亮", "first_name": "阿姨", "last_name": "王", "phone": PHONE,
                "email": "wang@example.cn"} | fields
        given = {name: value for name, value in form.items() if value is not None}
        return self.sut.client.post(f"/open311/v2/requests.{fmt}", data=given)

    def posted(self, **fields: str) -> str:
        r = self.post(**fields)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.json[0]["service_request_id"]

    def get(self, path: str, **query: str):
        return self.sut.client.get(f"/open311/v2/{path}", query_string=query)

    def move(self, ticket: str, verb: str, body: dict) -> None:
        r = self.sut.client.post(f"/v1/tickets/{ticket}/{verb}", json=body,
                                 headers=self.sut.as_(YONGCHUAN, "tickets:write"))
        assert r.status_code == 200, r.json
