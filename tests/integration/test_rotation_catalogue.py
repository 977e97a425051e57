"""Every event rotation declares reaches real RabbitMQ from real PostgreSQL, on the exchange its privacy names.

The other rotation integration tests look closely at particular events; this one walks a committee through
every action (over HTTP, with registry's committee arriving over the bus and the clock telling what time
brings) so that no event of the catalogue goes untried, and a new one without a path here fails. The units
come from registry with their phones and e-mail addresses, and none of them may reach a public event.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

import linli.services.rotation.events  # noqa: F401 - declares rotation's events in the catalogue
from linli.services.rotation import api
from linli.services.rotation.domain import add_months
from linli.services.rotation.models import CommitteeUnit
from linli.shared.bus import private_exchange
from linli.shared.events import CATALOGUE
from tests.support.collector import Collector
from tests.support.registry_world import yongchuan_over_http
from tests.support.waiting import wait_for

ROTATION_EVENTS = {key for key in CATALOGUE if key.startswith("rotation.")}
SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONES = ("13811110001", "13811110002", "13811110003", "13911110001", "13911110002", "13911110003")
EMAILS = ("office1@hospital.example.cn", "office2@power.example.cn", "office3@police.example.cn")


def _today() -> date:
    return datetime.now(UTC).astimezone(SHANGHAI).date()


def test_every_rotation_event_is_published_to_its_exchange(live, bus, run_threads, monkeypatch):
    registry, rotation = live("registry", bus), live("rotation", bus)
    public = Collector(bus, binding="rotation.#")
    private = Collector(bus, binding="rotation.#", name="test.private", exchange=private_exchange(bus))
    worker = rotation.rt.worker()
    run_threads(registry.rt.relay().run, rotation.rt.relay().run, worker.run)
    assert worker.ready.wait(15)

    # registry: a committee of three units, each with its office's phone and e-mail and a member's phone; and
    # a committee without units in another community.
    world = yongchuan_over_http(registry)
    clerk = world["clerk"]

    def registered(path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        r = registry.client.post(path, json=body, headers=clerk)
        assert r.status_code == status, (path, r.json)
        return r.json

    committee = registered("/v1/committees", {"community_id": world["community"]["id"], "name": "星光社区大党委",
                                              "convenor_name": "张书记"})
    units = [registered("/v1/organizations", {"kind": "hospital", "name": name, "contact_phone": phone,
                                              "contact_email": email})
             for name, phone, email in zip(("永川区人民医院", "永川供电公司", "中山路派出所"), PHONES[:3], EMAILS,
                                           strict=True)]
    for unit, phone in zip(units, PHONES[3:], strict=True):
        registered(f"/v1/committees/{committee['id']}/units", {
            "organization_id": unit["id"], "joined_on": "2020-01-01", "member_name": "王委员", "member_phone": phone})
    other_community = world["area"]({"level": "community", "name": "棠城社区",
                                     "parent_id": world["community"]["parent_id"]})
    empty = registered("/v1/committees", {"community_id": other_community["id"], "name": "棠城社区大党委"})

    h = rotation.as_(world["district"]["id"], "rotation:read rotation:write")

    def known() -> bool:
        with rotation.rt.factory() as session:
            stints = session.scalar(select(func.count()).select_from(CommitteeUnit).where(
                CommitteeUnit.committee_id == committee["id"]))
        return stints == 3 and len(rotation.client.get("/v1/committees", headers=h).json["items"]) == 2

    wait_for(known, timeout=30, message="registry's committees and units in rotation")

    def call(method: str, path: str, body: dict[str, Any] | None = None, status: int = 200,
             etag: str | None = None) -> dict[str, Any]:
        headers = {**h, "If-Match": etag} if etag else h
        r = rotation.client.open(path, method=method, json=body or {}, headers=headers)
        assert r.status_code == status, (path, r.status_code, r.json)
        return r.json

    # Monthly terms from two months back, so time has already brought terms 0 and 1 to their end; the clock
    # tells it all: started, ending_soon, ended, report_due. The empty committee's terms are all gaps.
    starts_on = add_months(_today().replace(day=1), -2)
    main = call("POST", "/v1/rotations", {"committee_id": committee["id"], "term_months": 1,
                                          "starts_on": starts_on.isoformat(), "report_due_days": 3}, 201)
    call("POST", "/v1/rotations", {"committee_id": empty["id"], "term_months": 3,
                                   "starts_on": starts_on.isoformat()}, 201)
    call("PATCH", f"/v1/rotations/{main['id']}", {"ending_soon_days": 10, "reason": "提前提醒"},
         etag=f'"{main["version"]}"')
    clock = rotation.rt.clock()
    wait_for(lambda: clock.tick() == 0 and call("GET", f"/v1/rotations/{main['id']}/chair")["term"],
             timeout=30, message="the clock caught up with the rotation")

    # The chair of term 0 gives its report, late.
    first = call("GET", f"/v1/terms?rotation_id={main['id']}&from={starts_on.isoformat()}T00:00:00Z&limit=1")
    term0 = first["items"][0]
    call("POST", "/v1/term-reports", {"term_id": term0["id"], "organization_id": term0["organization_id"],
                                      "text": "本任期办结群众诉求一件。"}, 201)

    # The sitting chair leaves the committee in registry today: the rest of its term is handed over.
    sitting = call("GET", f"/v1/rotations/{main['id']}/chair")["term"]
    registered(f"/v1/committees/{committee['id']}/units/{sitting['organization_id']}/leave",
               {"left_on": _today().isoformat(), "reason": "单位撤并"}, 200)
    wait_for(lambda: public.of_type("rotation.term.handed_over"), timeout=30, message="the handover")

    # The future, with the two units left: a substitute given and withdrawn; one swap accepted, one declined,
    # and one left unanswered until its first term begins.
    def planned() -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return [t for t in call("GET", f"/v1/rotations/{main['id']}/schedule?limit=20&from="
                                       f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')}")["items"]
                if datetime.fromisoformat(t["starts_at"]) > now]

    future = planned()
    left = [u["id"] for u in units if u["id"] != sitting["organization_id"]]
    assert {t["organization_id"] for t in future} == set(left), future

    def other_chair(start: int) -> dict[str, Any]:
        return next(t for t in future[start:] if t["organization_id"] != future[start - 1]["organization_id"])

    # The first future term's swap is the one left unanswered: it lapses when that term begins.
    swaps = [call("POST", "/v1/swaps", {"term_id": future[i]["id"], "with_term_id": other_chair(i + 1)["id"],
                                        "reason": "单位工作安排"}, 201) for i in (3, 6, 0)]
    call("POST", f"/v1/swaps/{swaps[0]['id']}/accept", {"reason": "同意"})
    call("POST", f"/v1/swaps/{swaps[1]['id']}/decline", {"reason": "届时有迎检任务"})
    substituted = planned()[10]  # the accepted swap planned the terms after it again
    spare = next(u for u in left if u != substituted["organization_id"])
    override = call("POST", "/v1/overrides", {"kind": "substitute", "term_id": substituted["id"],
                                              "organization_id": spare, "reason": "代为轮值"}, 201)
    call("POST", f"/v1/overrides/{override['id']}/cancel", {"reason": "原单位可以轮值"})

    # Joint meetings, ad hoc: one retitled, moved and then held once its time came; one called off.
    tomorrow = _today() + timedelta(days=1)
    meeting = call("POST", "/v1/meetings", {"committee_id": committee["id"], "date": tomorrow.isoformat(),
                                            "time": "09:30", "place": "星光社区党群服务中心"}, 201)
    meeting = call("PATCH", f"/v1/meetings/{meeting['id']}", {"title": "第四季度联席会议"},
                   etag=f'"{meeting["version"]}"')
    meeting = call("POST", f"/v1/meetings/{meeting['id']}/move", {
        "date": (tomorrow + timedelta(days=2)).isoformat(), "time": "14:30", "reason": "书记外出开会"})
    called_off = call("POST", "/v1/meetings", {"committee_id": committee["id"],
                                               "date": (tomorrow + timedelta(days=1)).isoformat(), "time": "09:30"},
                      201)
    call("POST", f"/v1/meetings/{called_off['id']}/cancel", {"reason": "防汛"})
    with monkeypatch.context() as later:
        # The API's clock two hours into the meeting: a meeting is recorded held once it began.
        began = datetime.fromisoformat(meeting["starts_at"]) + timedelta(hours=2)
        later.setattr(api, "utcnow", lambda: began)
        call("POST", f"/v1/meetings/{meeting['id']}/hold", {"attendance": [], "minutes": "议定事项两项"})

    # The clock when the unanswered swap's first term begins: the request lapses.
    assert rotation.rt.clock(now=lambda: datetime.fromisoformat(future[0]["starts_at"])).tick() >= 1

    def keys(collector: Collector) -> set[str]:
        return {e["type"].removeprefix("linli.") for e in list(collector.events)}

    def missing() -> set[str]:
        return ROTATION_EVENTS - keys(public) - keys(private)

    with contextlib.suppress(AssertionError):  # the assertion below names what never arrived
        wait_for(lambda: not missing(), timeout=30, message="every rotation event")
    assert not missing(), f"declared but never published: {sorted(missing())}"
    assert keys(public) | keys(private) == ROTATION_EVENTS
    assert all(not CATALOGUE[key].private for key in keys(public)), keys(public)
    assert all(CATALOGUE[key].private for key in keys(private)), keys(private)
    bodies = [json.dumps(e, ensure_ascii=False) for e in list(public.events)]
    assert not [(needle, body) for body in bodies for needle in (*PHONES, *EMAILS) if needle in body]
    public.close()
    private.close()
