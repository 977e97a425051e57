"""The suite's default wording of every ruled event: per locale, (title, body, sms) as Jinja2 templates.

The title and body serve the inbox and email; SMS has its own short text, signed 【邻里】 / [linli]. Variables
are the event's payload (see `samples.py` for each event's) plus `recipient_role` and `unit_names`; instants
go through `| local` (the districts' local time). A district overrides any of them over /v1/templates.
"""

from __future__ import annotations

ZH, EN = "zh-CN", "en"

_UNITS_ZH = "{{ unit_names | join('、') }}"
_UNITS_EN = "{{ unit_names | join(', ') }}"

DEFAULTS: dict[str, dict[str, tuple[str, str, str]]] = {
    "tickets.ticket.submitted": {
        ZH: ("新诉求：{{ title }}",
             "{{ compound_name }}收到一条新诉求「{{ title }}」，请于{{ due_at | local }}前受理。",
             "【邻里】您反映的「{{ title }}」已提交{{ compound_name }}，将于{{ due_at | local }}前受理。"),
        EN: ("New ticket: {{ title }}",
             "A new ticket \"{{ title }}\" was raised in {{ compound_name }}; please take it on by "
             "{{ due_at | local }}.",
             "[linli] Your ticket \"{{ title }}\" reached {{ compound_name }}; it will be taken on by "
             "{{ due_at | local }}."),
    },
    "tickets.ticket.accepted": {
        ZH: ("诉求已受理：{{ title }}", "{{ compound_name }}已受理诉求「{{ title }}」。",
             "【邻里】您反映的「{{ title }}」已由{{ compound_name }}受理。"),
        EN: ("Ticket taken on: {{ title }}", "{{ compound_name }} took the ticket \"{{ title }}\" on.",
             "[linli] {{ compound_name }} took your ticket \"{{ title }}\" on."),
    },
    "tickets.ticket.rejected": {
        ZH: ("诉求未受理：{{ title }}",
             "{{ compound_name }}未受理诉求「{{ title }}」{% if move.reason %}，原因：{{ move.reason }}{% endif %}。",
             "【邻里】您反映的「{{ title }}」未被受理{% if move.reason %}：{{ move.reason }}{% endif %}。"),
        EN: ("Ticket turned down: {{ title }}",
             "{{ compound_name }} turned the ticket \"{{ title }}\" down{% if move.reason %}: {{ move.reason }}"
             "{% endif %}.",
             "[linli] Your ticket \"{{ title }}\" was turned down{% if move.reason %}: {{ move.reason }}{% endif %}."),
    },
    "tickets.ticket.escalated": {
        ZH: ("小区吹哨：{{ title }}", "{{ compound_name }}就诉求「{{ title }}」向社区吹哨，请研究处理。",
             "【邻里】您反映的「{{ title }}」已由{{ compound_name }}上报社区协调。"),
        EN: ("Whistle blown: {{ title }}",
             "{{ compound_name }} passed the ticket \"{{ title }}\" to the community; please take it up.",
             "[linli] {{ compound_name }} passed your ticket \"{{ title }}\" to the community."),
    },
    "tickets.ticket.listed": {
        ZH: ("诉求挂单：{{ title }}", "{{ compound_name }}的诉求「{{ title }}」已列入大党委联席会议议题。",
             "【邻里】{{ compound_name }}「{{ title }}」已列入联席会议议题。"),
        EN: ("Ticket listed: {{ title }}",
             "The ticket \"{{ title }}\" of {{ compound_name }} is listed for the committee's joint meeting.",
             "[linli] \"{{ title }}\" ({{ compound_name }}) is listed for the joint meeting."),
    },
    "tickets.ticket.dispatched": {
        ZH: ("派单：{{ title }}",
             "{{ compound_name }}的诉求「{{ title }}」已派给" + _UNITS_ZH + "，请按时限办理。",
             "{% if recipient_role == 'reporter' %}【邻里】您反映的「{{ title }}」已派给" + _UNITS_ZH + "办理。"
             "{% else %}【邻里】{{ compound_name }}「{{ title }}」已派给贵单位，请按时办理。{% endif %}"),
        EN: ("Dispatched: {{ title }}",
             "The ticket \"{{ title }}\" of {{ compound_name }} was dispatched to " + _UNITS_EN
             + "; please handle it in time.",
             "{% if recipient_role == 'reporter' %}[linli] Your ticket \"{{ title }}\" went to " + _UNITS_EN
             + ".{% else %}[linli] \"{{ title }}\" ({{ compound_name }}) was dispatched to your unit.{% endif %}"),
    },
    "tickets.ticket.claimed": {
        ZH: ("诉求已认领：{{ title }}",
             "{% if unit_names %}" + _UNITS_ZH + "{% else %}一名党员{% endif %}认领了{{ compound_name }}的诉求"
             "「{{ title }}」。",
             "【邻里】您反映的「{{ title }}」已被{% if unit_names %}" + _UNITS_ZH + "{% else %}党员{% endif %}认领。"),
        EN: ("Ticket claimed: {{ title }}",
             "{% if unit_names %}" + _UNITS_EN + "{% else %}A party member{% endif %} claimed the ticket "
             "\"{{ title }}\" of {{ compound_name }}.",
             "[linli] Your ticket \"{{ title }}\" was claimed by {% if unit_names %}" + _UNITS_EN
             + "{% else %}a party member{% endif %}."),
    },
    "tickets.ticket.resolved": {
        ZH: ("诉求已办结：{{ title }}",
             "{% if unit_names %}" + _UNITS_ZH + "已办结{% else %}已办结{% endif %}{{ compound_name }}的诉求"
             "「{{ title }}」{% if state == 'resolved' %}，待回头看{% endif %}。",
             "【邻里】您反映的「{{ title }}」已办结，欢迎评价。"),
        EN: ("Ticket resolved: {{ title }}",
             "{% if unit_names %}" + _UNITS_EN + " resolved{% else %}Resolved:{% endif %} the ticket "
             "\"{{ title }}\" of {{ compound_name }}{% if state == 'resolved' %}; an on-site review follows"
             "{% endif %}.",
             "[linli] Your ticket \"{{ title }}\" is resolved; tell us how it went."),
    },
    "tickets.ticket.rerouted": {
        ZH: ("诉求改派：{{ title }}",
             "{{ compound_name }}的诉求「{{ title }}」已改派给" + _UNITS_ZH + "。",
             "【邻里】{{ compound_name }}「{{ title }}」已改派给" + _UNITS_ZH + "。"),
        EN: ("Ticket re-routed: {{ title }}",
             "The ticket \"{{ title }}\" of {{ compound_name }} now goes to " + _UNITS_EN + ".",
             "[linli] \"{{ title }}\" ({{ compound_name }}) now goes to " + _UNITS_EN + "."),
    },
    "tickets.ticket.reopened": {
        ZH: ("诉求重办：{{ title }}",
             "{{ compound_name }}的诉求「{{ title }}」需要重新办理{% if move.reason %}（{{ move.reason }}）"
             "{% endif %}。",
             "【邻里】{{ compound_name }}「{{ title }}」需重新办理，请尽快处理。"),
        EN: ("Ticket reopened: {{ title }}",
             "The ticket \"{{ title }}\" of {{ compound_name }} was sent back{% if move.reason %} "
             "({{ move.reason }}){% endif %}.",
             "[linli] \"{{ title }}\" ({{ compound_name }}) was sent back; please handle it again."),
    },
    "tickets.ticket.closed": {
        ZH: ("诉求已关闭：{{ title }}",
             "{{ compound_name }}的诉求「{{ title }}」已关闭{% if closed_reason %}（{{ closed_reason }}）"
             "{% endif %}。",
             "【邻里】您反映的「{{ title }}」已办结关闭，感谢您的参与。"),
        EN: ("Ticket closed: {{ title }}",
             "The ticket \"{{ title }}\" of {{ compound_name }} is closed{% if closed_reason %} "
             "({{ closed_reason }}){% endif %}.",
             "[linli] Your ticket \"{{ title }}\" is closed. Thank you."),
    },
    "tickets.ticket.merged": {
        ZH: ("诉求已合并：{{ title }}", "诉求「{{ title }}」与{{ compound_name }}的另一条诉求重复，已合并办理。",
             "【邻里】您反映的「{{ title }}」与已有诉求重复，已合并办理。"),
        EN: ("Ticket merged: {{ title }}",
             "The ticket \"{{ title }}\" duplicates another of {{ compound_name }} and is handled with it.",
             "[linli] Your ticket \"{{ title }}\" duplicates another and is handled with it."),
    },
    "tickets.ticket.commented": {
        ZH: ("新留言：{{ ticket_title }}", "诉求「{{ ticket_title }}」有新留言：{{ text }}",
             "【邻里】诉求「{{ ticket_title }}」有新留言。"),
        EN: ("New comment: {{ ticket_title }}", "The ticket \"{{ ticket_title }}\" has a new comment: {{ text }}",
             "[linli] The ticket \"{{ ticket_title }}\" has a new comment."),
    },
    "tickets.ticket.due_soon": {
        ZH: ("诉求即将到期：{{ title }}",
             "{{ compound_name }}的诉求「{{ title }}」{% if unit_names %}（" + _UNITS_ZH + "）{% endif %}"
             "将于{{ stage_due_at | local }}到期，请抓紧办理。",
             "【邻里】{{ compound_name }}「{{ title }}」将于{{ stage_due_at | local }}到期。"),
        EN: ("Ticket due soon: {{ title }}",
             "The ticket \"{{ title }}\" of {{ compound_name }}{% if unit_names %} (" + _UNITS_EN + "){% endif %}"
             " is due by {{ stage_due_at | local }}.",
             "[linli] \"{{ title }}\" ({{ compound_name }}) is due by {{ stage_due_at | local }}."),
    },
    "tickets.ticket.overdue": {
        ZH: ("诉求已超期：{{ title }}",
             "{{ compound_name }}的诉求「{{ title }}」{% if unit_names %}（" + _UNITS_ZH + "）{% endif %}"
             "已超过处理时限（{{ stage_due_at | local }}）"
             "{% if escalation %}，已提请{{ escalation.committee_name }}轮值主席"
             "{% if escalation.chair_unit_name %}{{ escalation.chair_unit_name }}{% endif %}"
             "{% if escalation.convenor_name %}和召集人{{ escalation.convenor_name }}{% endif %}督办{% endif %}。",
             "【邻里】{{ compound_name }}「{{ title }}」已超期（{{ stage_due_at | local }}），请尽快处理。"),
        EN: ("Ticket overdue: {{ title }}",
             "The ticket \"{{ title }}\" of {{ compound_name }}{% if unit_names %} (" + _UNITS_EN + "){% endif %}"
             " passed its deadline ({{ stage_due_at | local }})"
             "{% if escalation %}; it is escalated to {{ escalation.committee_name }}'s rotating chair"
             "{% if escalation.chair_unit_name %} {{ escalation.chair_unit_name }}{% endif %}"
             "{% if escalation.convenor_name %} and convenor {{ escalation.convenor_name }}{% endif %}{% endif %}.",
             "[linli] \"{{ title }}\" ({{ compound_name }}) passed its deadline ({{ stage_due_at | local }})."),
    },
    "rotation.term.started": {
        ZH: ("轮值主席任期开始：{{ committee_name }}",
             "{{ organization_name or '（暂无）' }}自{{ starts_on }}起任{{ committee_name }}轮值主席，"
             "至{{ ends_on }}。",
             "【邻里】{{ organization_name }}自{{ starts_on }}至{{ ends_on }}任{{ committee_name }}轮值主席。"),
        EN: ("Rotating chair's term begins: {{ committee_name }}",
             "{{ organization_name or '(nobody)' }} chairs {{ committee_name }} from {{ starts_on }} to "
             "{{ ends_on }}.",
             "[linli] {{ organization_name }} chairs {{ committee_name }} from {{ starts_on }} to {{ ends_on }}."),
    },
    "rotation.term.handed_over": {
        ZH: ("轮值主席交接：{{ committee_name }}",
             "{{ committee_name }}轮值主席自{{ handed_over_on }}起由{{ previous.organization_name or '（暂无）' }}"
             "交接给{{ term.organization_name }}，任期至{{ term.ends_on }}。",
             "【邻里】{{ committee_name }}轮值主席{{ handed_over_on }}起由{{ term.organization_name }}接任，"
             "至{{ term.ends_on }}。"),
        EN: ("Chair handed over: {{ committee_name }}",
             "From {{ handed_over_on }}, {{ term.organization_name }} chairs {{ committee_name }} instead of "
             "{{ previous.organization_name or '(nobody)' }}, until {{ term.ends_on }}.",
             "[linli] From {{ handed_over_on }} {{ term.organization_name }} chairs {{ committee_name }} "
             "until {{ term.ends_on }}."),
    },
    "rotation.term.ending_soon": {
        ZH: ("轮值任期即将结束：{{ committee_name }}",
             "贵单位担任{{ committee_name }}轮值主席的任期将于{{ ends_on }}结束"
             "{% if report_due_on %}，请于{{ report_due_on }}前提交任期述职{% endif %}。",
             "【邻里】贵单位{{ committee_name }}轮值主席任期{{ ends_on }}结束"
             "{% if report_due_on %}，述职请于{{ report_due_on }}前提交{% endif %}。"),
        EN: ("Chair's term ending: {{ committee_name }}",
             "Your unit's term as {{ committee_name }}'s rotating chair ends on {{ ends_on }}"
             "{% if report_due_on %}; the term report is due before {{ report_due_on }}{% endif %}.",
             "[linli] Your {{ committee_name }} chair term ends {{ ends_on }}"
             "{% if report_due_on %}; report due before {{ report_due_on }}{% endif %}."),
    },
    "rotation.term.ended": {
        ZH: ("轮值任期结束：{{ committee_name }}",
             "{{ organization_name }}担任{{ committee_name }}轮值主席的任期（{{ starts_on }}至{{ ends_on }}）已结束"
             "{% if report_due_on %}，任期述职请于{{ report_due_on }}前提交{% endif %}。",
             "【邻里】{{ committee_name }}轮值主席任期已结束{% if report_due_on %}，请于{{ report_due_on }}前述职"
             "{% endif %}。"),
        EN: ("Chair's term ended: {{ committee_name }}",
             "{{ organization_name }}'s term as {{ committee_name }}'s rotating chair ({{ starts_on }} to "
             "{{ ends_on }}) ended{% if report_due_on %}; the term report is due before {{ report_due_on }}"
             "{% endif %}.",
             "[linli] Your {{ committee_name }} chair term ended{% if report_due_on %}; report due "
             "before {{ report_due_on }}{% endif %}."),
    },
    "rotation.term.report_due": {
        ZH: ("任期述职{% if report_state == 'missing' %}待提交{% else %}已到期{% endif %}：{{ committee_name }}",
             "{{ organization_name }}{{ starts_on }}至{{ ends_on }}的{{ committee_name }}轮值主席任期述职"
             "{% if report_state == 'missing' %}已到期尚未提交，请尽快提交{% else %}已提交{% endif %}。",
             "【邻里】{{ committee_name }}轮值主席任期述职{% if report_state == 'missing' %}已到期，请尽快提交"
             "{% else %}已提交{% endif %}。"),
        EN: ("Term report {% if report_state == 'missing' %}overdue{% else %}due{% endif %}: {{ committee_name }}",
             "The term report of {{ organization_name }} as {{ committee_name }}'s chair ({{ starts_on }} to "
             "{{ ends_on }}) {% if report_state == 'missing' %}is due and not yet given; please submit it"
             "{% else %}was given{% endif %}.",
             "[linli] Your {{ committee_name }} term report {% if report_state == 'missing' %}is due; please "
             "submit it{% else %}was received{% endif %}."),
    },
    "rotation.term.report_submitted": {
        ZH: ("任期述职已提交：{{ committee_name }}",
             "{{ organization_name }}提交了{{ term.starts_on }}至{{ term.ends_on }}的轮值主席任期述职"
             "{% if state == 'late' %}（逾期）{% endif %}：挂单{{ figures.tickets_listed }}件，"
             "派单{{ figures.tickets_dispatched }}件，办结{{ figures.tickets_closed }}件。",
             "【邻里】{{ organization_name }}已提交{{ committee_name }}轮值主席任期述职。"),
        EN: ("Term report given: {{ committee_name }}",
             "{{ organization_name }} gave its term report for {{ term.starts_on }} to {{ term.ends_on }}"
             "{% if state == 'late' %} (late){% endif %}: {{ figures.tickets_listed }} listed, "
             "{{ figures.tickets_dispatched }} dispatched, {{ figures.tickets_closed }} closed.",
             "[linli] {{ organization_name }} gave its {{ committee_name }} term report."),
    },
    "rotation.meeting.scheduled": {
        ZH: ("联席会议通知：{{ title }}",
             "{{ committee_name }}定于{{ local_date }} {{ local_time }}{% if place %}在{{ place }}{% endif %}召开"
             "「{{ title }}」{% if convenor_name %}，召集人{{ convenor_name }}{% endif %}，请贵单位派员参加。",
             "【邻里】{{ committee_name }}{{ local_date }} {{ local_time }}召开联席会议，请派员参加。"),
        EN: ("Joint meeting: {{ title }}",
             "{{ committee_name }} meets on {{ local_date }} at {{ local_time }}{% if place %} in {{ place }}"
             "{% endif %} for \"{{ title }}\"{% if convenor_name %}, convened by {{ convenor_name }}{% endif %}; "
             "please send someone.",
             "[linli] {{ committee_name }} joint meeting {{ local_date }} {{ local_time }}; please attend."),
    },
    "rotation.meeting.moved": {
        ZH: ("联席会议改期：{{ title }}",
             "{{ committee_name }}「{{ title }}」由{{ previous_local_date }} {{ previous_local_time }}改为"
             "{{ local_date }} {{ local_time }}{% if place %}，地点{{ place }}{% endif %}"
             "{% if reason %}（{{ reason }}）{% endif %}。",
             "【邻里】{{ committee_name }}联席会议改至{{ local_date }} {{ local_time }}。"),
        EN: ("Joint meeting moved: {{ title }}",
             "{{ committee_name }}'s \"{{ title }}\" moved from {{ previous_local_date }} {{ previous_local_time }} "
             "to {{ local_date }} {{ local_time }}{% if place %} in {{ place }}{% endif %}"
             "{% if reason %} ({{ reason }}){% endif %}.",
             "[linli] {{ committee_name }} joint meeting moved to {{ local_date }} {{ local_time }}."),
    },
    "rotation.meeting.cancelled": {
        ZH: ("联席会议取消：{{ title }}",
             "{{ committee_name }}原定{{ local_date }} {{ local_time }}的「{{ title }}」取消"
             "{% if reason %}（{{ reason }}）{% endif %}。",
             "【邻里】{{ committee_name }}{{ local_date }}的联席会议取消。"),
        EN: ("Joint meeting cancelled: {{ title }}",
             "{{ committee_name }}'s \"{{ title }}\" on {{ local_date }} at {{ local_time }} is cancelled"
             "{% if reason %} ({{ reason }}){% endif %}.",
             "[linli] {{ committee_name }} joint meeting on {{ local_date }} is cancelled."),
    },
    "rotation.swap.requested": {
        ZH: ("换班申请：{{ committee_name }}",
             "{{ organization_name }}申请与贵单位互换轮值任期（{{ term.starts_on }}至{{ term.ends_on }} 与 "
             "{{ with_term.starts_on }}至{{ with_term.ends_on }}），理由：{{ reason }}。",
             "【邻里】{{ organization_name }}申请与贵单位互换{{ committee_name }}轮值任期，请及时答复。"),
        EN: ("Swap request: {{ committee_name }}",
             "{{ organization_name }} asks to swap terms with your unit ({{ term.starts_on }} to {{ term.ends_on }} "
             "for {{ with_term.starts_on }} to {{ with_term.ends_on }}): {{ reason }}.",
             "[linli] {{ organization_name }} asks to swap {{ committee_name }} terms with you; please answer."),
    },
    "rotation.swap.accepted": {
        ZH: ("换班已同意：{{ committee_name }}",
             "{{ with_organization_name }}同意互换轮值任期，贵单位任期改为{{ with_term.starts_on }}至"
             "{{ with_term.ends_on }}。", "【邻里】{{ with_organization_name }}已同意互换轮值任期。"),
        EN: ("Swap accepted: {{ committee_name }}",
             "{{ with_organization_name }} agreed to swap; your term is now {{ with_term.starts_on }} to "
             "{{ with_term.ends_on }}.", "[linli] {{ with_organization_name }} agreed to swap terms."),
    },
    "rotation.swap.declined": {
        ZH: ("换班未同意：{{ committee_name }}",
             "{{ with_organization_name }}未同意互换轮值任期{% if answer_reason %}：{{ answer_reason }}{% endif %}。",
             "【邻里】{{ with_organization_name }}未同意互换轮值任期。"),
        EN: ("Swap declined: {{ committee_name }}",
             "{{ with_organization_name }} declined to swap terms{% if answer_reason %}: {{ answer_reason }}"
             "{% endif %}.", "[linli] {{ with_organization_name }} declined to swap terms."),
    },
    "rotation.schedule.gap_found": {
        ZH: ("轮值空缺：{{ committee_name }}",
             "{{ committee_name }}有{{ gaps | length }}个任期无单位可轮值，首个自{{ gaps[0].starts_on }}起，"
             "请安排。", "【邻里】{{ committee_name }}有{{ gaps | length }}个任期无人轮值，请安排。"),
        EN: ("No chair for some terms: {{ committee_name }}",
             "{{ committee_name }} has {{ gaps | length }} term(s) no unit can chair, the first from "
             "{{ gaps[0].starts_on }}.", "[linli] {{ committee_name }}: {{ gaps | length }} term(s) have no chair."),
    },
    "registry.check_in.confirmed": {
        ZH: ("报到已确认", "您的小区报到已于{{ decided_at | local }}确认，欢迎参与小区服务。",
             "【邻里】您的小区报到已确认，欢迎参与小区服务。"),
        EN: ("Check-in confirmed", "Your check-in at your compound was confirmed on {{ decided_at | local }}.",
             "[linli] Your check-in was confirmed."),
    },
    "registry.check_in.rejected": {
        ZH: ("报到未通过", "您的小区报到未通过{% if reason %}：{{ reason }}{% endif %}。",
             "【邻里】您的小区报到未通过{% if reason %}：{{ reason }}{% endif %}。"),
        EN: ("Check-in not confirmed", "Your check-in was not confirmed{% if reason %}: {{ reason }}{% endif %}.",
             "[linli] Your check-in was not confirmed{% if reason %}: {{ reason }}{% endif %}."),
    },
    "registry.service_record.verified": {
        ZH: ("服务时长已记录", "您{{ served_on }}的{{ hours }}小时志愿服务已记入服务记录。",
             "【邻里】您{{ served_on }}的{{ hours }}小时服务已记录。"),
        EN: ("Service hours recorded", "Your {{ hours }} hours of service on {{ served_on }} are on your record.",
             "[linli] Your {{ hours }} hours on {{ served_on }} are recorded."),
    },
    "registry.committee.unit_joined": {
        ZH: ("新共建单位：{{ name }}", "{{ organization_name }}于{{ joined_on }}加入{{ name }}，成为共建单位。",
             "【邻里】{{ organization_name }}已加入{{ name }}。"),
        EN: ("New co-building unit: {{ name }}", "{{ organization_name }} joined {{ name }} on {{ joined_on }}.",
             "[linli] {{ organization_name }} joined {{ name }}."),
    },
}
