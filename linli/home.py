"""The embedded mode's front page: what runs where, in Simplified Chinese by default, English on request."""

from __future__ import annotations

from flask import Flask

from linli.shared.http.problem_pages import page_locale, problem_page

TEXT = {
    "zh-CN": {
        "title": "邻里 · 党建引领社区治理",
        "intro": "四个服务正在运行。每个服务都有自己的 API 文档、健康检查和指标。",
        "registry": "登记：区域、共建单位、大党委、党员报到与服务记录",
        "tickets": "诉求：居民诉求、小区吹哨、部门报到、回头看与评价",
        "rotation": "轮值：轮值主席任期、任期述职与联席会议",
        "notify": "通知：站内信、短信、邮件与 Webhook",
        "docs": "API 文档",
        "health": "健康检查",
        "token": "访问 API 需要令牌：启动时终端里打印的 LINLI_TOKEN。",
        "switch": "English",
    },
    "en": {
        "title": "linli · party-building-led community governance",
        "intro": "Four services are running. Each has its own API docs, health check and metrics.",
        "registry": "Registry: areas, co-building units, committees, member check-ins and service records",
        "tickets": "Tickets: residents' problems, whistle and dispatch, review and rating",
        "rotation": "Rotation: rotating-chair terms, term reports and joint meetings",
        "notify": "Notify: inbox, SMS, email and webhooks",
        "docs": "API docs",
        "health": "health",
        "token": "The API needs a bearer token: the LINLI_TOKEN printed in the terminal at start-up.",
        "switch": "中文",
    },
}


def home_app(services: list[str]) -> Flask:
    app = Flask("linli.home")

    @app.get("/")
    def index() -> str:
        lang = page_locale()
        t = TEXT[lang]
        other = "zh-CN" if lang == "en" else "en"
        rows = "".join(
            f'<li><strong>{t[name]}</strong> — <a href="/{name}/docs">{t["docs"]}</a> · '
            f'<a href="/{name}/openapi.json">OpenAPI</a> · <a href="/{name}/readyz">{t["health"]}</a></li>'
            for name in services
        )
        return (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{t["title"]}</title></head>'
            f'<body><h1>{t["title"]}</h1><p>{t["intro"]}</p><ul>{rows}</ul><p>{t["token"]}</p>'
            f'<p><a href="/?lang={other}">{t["switch"]}</a></p></body></html>'
        )

    # Problem `type`s are relative URIs: from any service under its prefix they resolve to this root.
    app.add_url_rule("/problems/<slug>", "problem_type", problem_page)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
