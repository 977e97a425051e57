"""The page each problem `type` resolves to: `/problems/<slug>`, in Simplified Chinese or English.

A problem's `type` is a relative URI (`/problems/validation`); a client or a person following it
reaches this page on the service, the gateway or the embedded mode's root alike. The catalogue
below is the one list of the suite's problem types; docs/problems.md is its long form.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from flask import Response, request


@dataclass(frozen=True)
class ProblemType:
    status: int
    zh: tuple[str, str]  # title, when it is answered
    en: tuple[str, str]


CATALOGUE: dict[str, ProblemType] = {
    "bad-request": ProblemType(400, ("请求有误", "请求体不是合法的 JSON：不是 UTF-8、语法错误、"
                                                 "嵌套过深或含非有限数字。"),
                               ("Bad request", "The body is not valid JSON: not UTF-8, malformed, nested too deep, "
                                               "or holding a non-finite number.")),
    "unauthorized": ProblemType(401, ("需要认证", "没有持有者令牌，或令牌无效、已过期（WWW-Authenticate 说明原因）。"),
                                ("Authentication required", "No bearer token, or an invalid or expired one "
                                                            "(WWW-Authenticate says which).")),
    "forbidden": ProblemType(403, ("不允许", "调用方根本不能做这件事（例如区级客户端新增一个区）。"),
                             ("Not allowed", "The caller may not do this at all (e.g. a district client adding a "
                                             "district).")),
    "insufficient-scope": ProblemType(403, ("权限范围不足", "令牌缺少本次调用所需的 scope（detail 中写明）。"),
                                      ("Insufficient scope", "The token lacks the scope the call needs (detail "
                                                             "names it).")),
    "not-found": ProblemType(404, ("未找到", "没有这个资源，或它属于另一个区。"),
                             ("Not found", "No such resource, or it belongs to another district.")),
    "method-not-allowed": ProblemType(405, ("方法不允许", "该地址存在，但不支持此方法（Allow 列出可用方法）。"),
                                      ("Method not allowed", "The URL exists, the method does not (Allow lists the "
                                                             "valid ones).")),
    "not-acceptable": ProblemType(406, ("无法提供", "无法以 Accept 要求的格式作答。"),
                                  ("Not acceptable", "No representation matches the Accept header.")),
    "conflict": ProblemType(409, ("冲突", "修改与现有数据冲突：重复（如同级区域重名）或并发写入。"),
                            ("Conflict", "The change collides with existing data: a duplicate (e.g. two sibling "
                                         "areas of one name) or a concurrent write.")),
    "invalid-transition": ProblemType(409, ("状态转换无效", "当前状态下不允许这个状态变更。"),
                                      ("Invalid state transition", "A state change not allowed from the item's "
                                                                   "current state.")),
    "precondition-failed": ProblemType(412, ("前提条件不成立", "If-Match 所带的版本已不是最新（见 ETag）；"
                                                            "八个编辑者同时提交时只有一个成功。"),
                                       ("Precondition failed", "If-Match names an older version than the item's "
                                                               "(ETag); of editors racing, exactly one wins.")),
    "payload-too-large": ProblemType(413, ("请求体过大", "请求体超过 1 MiB。"),
                                     ("Payload too large", "The body exceeds 1 MiB.")),
    "unsupported-media-type": ProblemType(415, ("不支持的媒体类型", "写操作的请求体必须是 UTF-8 编码的 "
                                                                 "application/json。"),
                                          ("Unsupported media type", "The body of a write must be "
                                                                     "application/json in UTF-8.")),
    "validation": ProblemType(422, ("校验失败", "输入格式正确但无效（如空白名称、NUL 字符、孤立代理字符）；"
                                              "errors 逐字段说明。"),
                              ("Validation failed", "Input well-formed but invalid (a blank name, a NUL character, "
                                                    "a lone surrogate); errors names the fields.")),
    "reference-not-yet-known": ProblemType(422, ("引用尚未同步", "引用的对象本服务暂时还不知道（刚在别的服务创建，"
                                                               "事件尚在途中）；按 Retry-After 稍后重试。"),
                                           ("Reference not yet known", "The referenced item is not known here yet "
                                                                       "(just created in another service, its event "
                                                                       "still on its way); retry after Retry-After "
                                                                       "seconds.")),
    "idempotency-key-reused": ProblemType(422, ("幂等键被复用", "同一个 Idempotency-Key 用于了不同的请求。"),
                                          ("Idempotency key reused", "An Idempotency-Key sent again with a "
                                                                     "different request.")),
    "precondition-required": ProblemType(428, ("需要前提条件", "此修改必须带 If-Match。"),
                                         ("Precondition required", "This change needs If-Match.")),
    "too-many-requests": ProblemType(429, ("请求过多", "请求过于频繁；按 Retry-After 稍后重试。"),
                                     ("Too many requests", "Too many requests; retry after Retry-After seconds.")),
    "internal": ProblemType(500, ("内部错误", "程序缺陷；已按请求编号记录日志，响应中不含内部细节。"),
                            ("Internal server error", "A bug; logged with the request id, no internals in the "
                                                      "body.")),
    "service-unavailable": ProblemType(503, ("服务不可用", "数据库（或网关后的服务）暂时无法访问，没有做任何修改；"
                                                         "按 Retry-After 稍后重试。"),
                                       ("Service unavailable", "The database (or, at the gateway, the service) is "
                                                               "unreachable; nothing was changed. Retry after "
                                                               "Retry-After seconds.")),
    "gateway-timeout": ProblemType(504, ("网关超时", "网关等待服务超时；写操作可能已生效，请带同一个 "
                                                   "Idempotency-Key 重试。"),
                                   ("Gateway timeout", "The gateway gave up waiting for the service; a write may "
                                                       "have been applied: retry it with the same Idempotency-Key.")),
    "error": ProblemType(0, ("错误", "其他错误；status 给出 HTTP 状态码。"),
                         ("Error", "Any other error; status gives the HTTP status code.")),
}

_LABELS = {
    "zh-CN": {"status": "HTTP 状态码", "when": "何时出现", "switch": "English", "all": "全部问题类型",
              "intro": "邻里（linli）各服务的错误都以 RFC 9457 problem+json 返回，type 指向本页。"},
    "en": {"status": "HTTP status", "when": "When", "switch": "中文", "all": "All problem types",
           "intro": "Every error of the linli services is an RFC 9457 problem+json whose type points here."},
}


def page_locale() -> str:
    """Simplified Chinese unless the caller asks for English (`?lang=en` or Accept-Language)."""
    wanted = request.args.get("lang") or request.accept_languages.best_match(["zh-CN", "zh", "en"]) or "zh-CN"
    return "en" if wanted.startswith("en") else "zh-CN"


def _page(lang: str, title: str, body: str) -> Response:
    html = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"</head><body>{body}</body></html>")
    response = Response(html, mimetype="text/html")
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language"
    return response


def problem_page(slug: str) -> Response:
    """The page of one problem type; an unknown slug is a 404 page."""
    lang = page_locale()
    labels = _LABELS[lang]
    other = "zh-CN" if lang == "en" else "en"
    entry = CATALOGUE.get(slug)
    if entry is None:
        rows = "".join(f'<li><a href="{name}?lang={lang}">/problems/{name}</a></li>' for name in CATALOGUE)
        response = _page(lang, "/problems/", f"<h1>/problems/{escape(slug)}</h1><p>{labels['all']}:</p>"
                                             f"<ul>{rows}</ul>")
        response.status_code = 404
        return response
    title, when = entry.zh if lang == "zh-CN" else entry.en
    status = f"<p>{labels['status']}: {entry.status}</p>" if entry.status else ""
    body = (f"<h1>{escape(title)}</h1><p><code>/problems/{slug}</code></p>{status}"
            f"<p>{labels['when']}: {escape(when)}</p><p>{labels['intro']}</p>"
            f'<p><a href="{slug}?lang={other}">{labels["switch"]}</a></p>')
    return _page(lang, f"{title} · /problems/{slug}", body)
