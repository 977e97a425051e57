"""Message templates: Jinja2 in a sandbox, per event type × channel × locale, checked against a sample at save.

A template sees the event's payload (what the producer sent, less personal fields), `recipient_role` (why
this recipient is told) and `unit_names` (the names of the units the event is about). A template naming a
variable the event does not carry is refused when saved (StrictUndefined, rendered against the event type's
sample), never rendered blank at send time. Notifications keep their event's variables and are rendered when
read, so the same row reads in Chinese for one caller and English for another.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment, SecurityError

from linli.services.notify import rules, samples, sms, wording
from linli.shared.clock import DEFAULT_TIME_ZONE
from linli.shared.errors import ValidationFailed

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")
DISPLAY_ZONE = ZoneInfo(DEFAULT_TIME_ZONE)

MAX_SUBJECT = 200
MAX_BODY = 2000
# Bounds on what a template may build: a loop over range(), a repeated string, any value, stay small.
MAX_RANGE = 100
MAX_REPEAT = 2000
MAX_OUTPUT = 10_000
# An SMS template whose sample runs past this many segments is refused; past one it is saved with a warning.
MAX_SMS_SEGMENTS = 3

# Fields of a payload a message never shows: residents' names and (masked) phones, free text written for the
# people handling a ticket, and places. Templates cannot name them (their samples lack them too).
WITHHELD = ("reporter_name", "reporter_phone", "description", "attachments", "address", "lat", "lon",
            "phone", "contact_phone", "member_phone", "email")


def local(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An RFC 3339 instant shown in the districts' local time, to the minute; anything else as given."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(DISPLAY_ZONE).strftime(fmt)
    return "" if value is None else str(value)


def _safe_range(*args: int) -> range:
    found = range(*args)
    if len(found) > MAX_RANGE:
        raise SecurityError(f"range() of more than {MAX_RANGE} items is not allowed in a message")
    return found


def _bounded(value: Any) -> Any:
    """A value a template built, refused when it grew past what any message needs (a string grown by chained
    replaces, a list by repetition)."""
    if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT:
        raise SecurityError(f"a value of more than {MAX_OUTPUT} characters or items is not allowed in a message")
    return value


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        return _bounded(fn(*args, **kwargs))

    return call


def _check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    # A width, a count or a size past this is never wording: `'x'.center(10**9)`, `'x'|indent(10**9)`.
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_REPEAT:
            raise SecurityError(f"numbers above {MAX_REPEAT} are not allowed as arguments in a message")


# Filters a message may use; the rest (format, center, indent, wordwrap, urlize, pprint, random, ...) build text a
# message does not need, some of any size.
FILTERS = ("abs", "capitalize", "count", "d", "default", "first", "float", "int", "join", "last", "length", "list",
           "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "select",
           "selectattr", "sort", "string", "sum", "title", "trim", "truncate", "unique", "upper", "wordcount")
# Statements a message may use: output, conditions and loops (at most MAX_LOOP_DEPTH deep). No assignments, macros,
# blocks, includes or filter sections: nothing that builds values step by step.
_FORBIDDEN_NODES = (nodes.Assign, nodes.AssignBlock, nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.With,
                    nodes.Block, nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport, nodes.Scope,
                    nodes.ScopedEvalContextModifier, nodes.EvalContextModifier)
MAX_LOOP_DEPTH = 2
_TAGS = {nodes.Assign: "set", nodes.AssignBlock: "set", nodes.FilterBlock: "filter", nodes.CallBlock: "call",
         nodes.FromImport: "from", nodes.ScopedEvalContextModifier: "autoescape"}


def check_nodes(tree: nodes.Template) -> None:
    """Refuse statements outside the subset messages use (SecurityError naming the first)."""
    for node in tree.find_all(_FORBIDDEN_NODES):
        tag = _TAGS.get(type(node), type(node).__name__.lower())
        raise SecurityError(f"{{% {tag} %}} (line {node.lineno}) is not allowed in a message")

    def depth(node: nodes.Node, level: int) -> None:
        for child in node.iter_child_nodes():
            inner = level + isinstance(child, nodes.For)
            if inner > MAX_LOOP_DEPTH:
                raise SecurityError(f"loops nested more than {MAX_LOOP_DEPTH} deep (line {child.lineno}) are not "
                                    "allowed in a message")
            depth(child, inner)

    depth(tree, 0)


MAX_POWER_BITS = 13_300   # about 4000 decimal digits: past Python's str() limit of 4300 digits anyway


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox (immutable: a template cannot change the event's lists and dicts it reads), with what a template
    may build bounded: `'x' * 10**9`, `9 ** 99999`, `'%999999999d' % 1`,
    `'x'.center(10**9)` and chained replaces are refused, not computed."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, int) and abs(right) > 64:
                raise SecurityError("exponents above 64 are not allowed in a message")
            # Jinja's ** is left-associative: 99**64**64**64**64 is ((99**64)**64)**64)**64, each exponent small,
            # the number billions of bits — computed for minutes. Bound the result, not only the exponent.
            if isinstance(left, int) and isinstance(right, int) and abs(left).bit_length() * right > MAX_POWER_BITS:
                raise SecurityError("numbers of more than 4000 digits are not allowed in a message")
            return operator.pow(left, right)
        if op == "%":
            if isinstance(left, str):
                raise SecurityError("%-formatting is not allowed in a message")
            return operator.mod(left, right)
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > MAX_REPEAT:
                    raise SecurityError(f"repeating to more than {MAX_REPEAT} items is not allowed in a message")
            return operator.mul(left, right)
        return super().call_binop(context, op, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's names
        if getattr(__obj, "__name__", None) in ("format", "format_map"):
            raise SecurityError("str.format is not allowed in a message")
        _check_arguments(args, kwargs)
        return _bounded(super().call(__context, __obj, *args, **kwargs))


def _environment() -> SandboxedEnvironment:
    env = _Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters = {name: _guarded(env.filters[name]) for name in FILTERS} | {"local": local}
    env.globals = {"range": _safe_range}
    return env


ENV = _environment()


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    check_nodes(ENV.parse(source))
    return ENV.from_string(source)


def _parsed(source: str) -> nodes.Template:
    return ENV.parse(source)


# --- What a template sees ---------------------------------------------------------------------------------------

def context(event_type: str, payload: Mapping[str, Any], role: str) -> dict[str, Any]:
    """The variables of a message about this event to a recipient told as `role`."""
    shown = {k: v for k, v in payload.items() if k not in WITHHELD}
    concerned = set(rules.concerned_units(event_type, payload))
    parts = payload.get("parts") or ()
    names = [p.get("unit_name") for p in parts if str(p.get("unit_id")) in concerned and p.get("unit_name")]
    if not names and payload.get("organization_name") and concerned:
        names = [payload["organization_name"]]
    return shown | {"recipient_role": role, "unit_names": names}


def sample_context(event_type: str, role: str | None = None) -> dict[str, Any] | None:
    payload = samples.sample(event_type)
    if payload is None:
        return None
    rule = rules.DEFAULT_RULES.get(event_type)
    first = role or (rule.targets[0].role if rule and rule.targets else "unit")
    return context(event_type, payload, first)


# --- Default and saved templates ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Wording:
    """A template's two texts: the subject (inbox title, email subject; unused by SMS) and the body."""

    subject: str
    body: str


def default(event_type: str, channel: str, locale: str) -> Wording | None:
    """The suite's wording of `event_type` on `channel` in `locale`: SMS has its own short text."""
    by_locale = wording.DEFAULTS.get(event_type)
    if by_locale is None:
        return None
    title, body, short = by_locale[locale if locale in by_locale else DEFAULT_LOCALE]
    return Wording("", short) if channel == rules.SMS else Wording(title, body)


def template_id(event_type: str, channel: str, locale: str) -> str:
    return f"{event_type}:{channel}:{locale}"


def parse_id(value: str) -> tuple[str, str, str]:
    """`event_type:channel:locale` of an id; ValueError when it is not one of a known template."""
    event_type, _, rest = value.partition(":")
    channel, _, locale = rest.partition(":")
    if event_type not in wording.DEFAULTS or channel not in rules.CHANNELS or locale not in LOCALES:
        raise ValueError(value)
    return event_type, channel, locale


# --- Rendering ------------------------------------------------------------------------------------------------

class RenderFailed(Exception):
    """A template could not be rendered with the variables given; `field` names subject or body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


_UNDEFINED = (re.compile(r"^'([^']+)' is undefined$"), re.compile(r"has no attribute '([^']+)'$"),
              re.compile(r"has no element '?([^']+?)'?$"))


def _undefined_name(error: UndefinedError) -> str:
    text = str(error.message or "")
    for pattern in _UNDEFINED:
        found = pattern.search(text)
        if found:
            return found.group(1)
    return text


def render_text(source: str, variables: Mapping[str, Any], field: str = "body") -> str:
    """One text rendered; RenderFailed saying why (a variable the event lacks, something the sandbox forbids)."""
    try:
        return str(_bounded(_compiled(source).render(**variables))).strip()
    except TemplateSyntaxError as exc:
        raise RenderFailed(field, f"line {exc.lineno}: {exc.message}") from exc
    except SecurityError as exc:
        raise RenderFailed(field, f"not allowed: {exc}") from exc
    except UndefinedError as exc:
        raise RenderFailed(field, f"uses {_undefined_name(exc)}, which this event does not carry") from exc
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError,
            RecursionError, MemoryError) as exc:
        raise RenderFailed(field, f"cannot be rendered: {type(exc).__name__}: {exc}") from exc


def render(wording_: Wording, variables: Mapping[str, Any]) -> tuple[str, str]:
    return render_text(wording_.subject, variables, "subject"), render_text(wording_.body, variables, "body")


def render_or_default(chosen: Wording, event_type: str, channel: str, locale: str,
                      variables: Mapping[str, Any], log: Callable[[str], None] | None = None) -> tuple[str, str]:
    """A saved template rendered, else (it failed on this event) the suite's default, else the bare event type.

    Saved templates were checked against the sample, but a real event may hold a null where the sample held a
    value; a reader then gets the default wording rather than an error.
    """
    try:
        return render(chosen, variables)
    except RenderFailed as exc:
        if log is not None:
            log(exc.message)
    fallback = default(event_type, channel, locale)
    if fallback is not None and fallback != chosen:
        try:
            return render(fallback, variables)
        except RenderFailed as exc:
            if log is not None:
                log(exc.message)
    return event_type, ""


# --- Checking a template before it is saved -------------------------------------------------------------------

@dataclass(frozen=True)
class Checked:
    """A template that rendered against its event's sample: the texts it gave, and its SMS segments."""

    subject: str
    body: str
    segments: int | None
    warnings: tuple[str, ...]


def _undeclared(source: str, field: str, known: Mapping[str, Any]) -> None:
    try:
        names = meta.find_undeclared_variables(_parsed(source))
    except TemplateSyntaxError as exc:
        raise ValidationFailed.field(field, f"line {exc.lineno}: {exc.message}") from exc
    missing = sorted(name for name in names if name not in known and name not in ENV.globals)
    if missing:
        raise ValidationFailed.field(field, f"uses {', '.join(missing)}, which this event does not carry")


def check(event_type: str, channel: str, subject: str, body: str,
          variables: Mapping[str, Any] | None = None) -> Checked:
    """Render `subject` and `body` against the event's sample (or `variables`); ValidationFailed naming the field
    that uses what the event lacks, breaks the sandbox's rules, or makes an SMS too long."""
    if variables is None:
        variables = sample_context(event_type)
        if variables is None:
            raise ValidationFailed.field("event_type", f"notify has no sample of {event_type}")
    for field, source in (("subject", subject), ("body", body)):
        _undeclared(source, field, variables)
    try:
        shown_subject, shown_body = render(Wording(subject, body), variables)
    except RenderFailed as exc:
        raise ValidationFailed.field(exc.field, exc.message) from exc
    if not shown_body:
        raise ValidationFailed.field("body", "renders empty for the sample event")
    segments, warnings = None, []
    if channel == rules.SMS:
        segments = sms.segments(shown_body)
        if segments > MAX_SMS_SEGMENTS:
            raise ValidationFailed.field("body", f"the sample's SMS is {sms.units(shown_body)} characters, "
                                                 f"{segments} segments; at most {MAX_SMS_SEGMENTS} are allowed")
        if segments > 1:
            warnings.append(f"the sample's SMS is sent as {segments} segments")
    return Checked(shown_subject, shown_body, segments, tuple(warnings))


# --- Locales --------------------------------------------------------------------------------------------------

def _match(tag: str) -> str | None:
    """The locale we have for a language tag: exact, else by its primary language (en-GB reads en)."""
    if tag in LOCALES:
        return tag
    language = tag.split("-", 1)[0].lower()
    return next((c for c in LOCALES if c.split("-", 1)[0].lower() == language), None)


def supported(locale: str | None) -> str:
    """The locale we have templates for that is closest to `locale`; zh-CN when none is."""
    return (_match(locale) if locale else None) or DEFAULT_LOCALE


def negotiate(accept_language: str | None) -> str:
    """Pick zh-CN or en from an Accept-Language header, honouring q-values; zh-CN when nothing fits."""
    if not accept_language:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, rest = item.strip().partition(";")
        quality = 1.0
        for param in rest.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            # Earlier tags win ties, as the header's order is the client's own preference.
            ranked.append((-quality, position, tag.strip()))
    for _, _, tag in sorted(ranked):
        found = DEFAULT_LOCALE if tag == "*" else _match(tag)
        if found:
            return found
    return DEFAULT_LOCALE
