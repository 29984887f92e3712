"""The response playbook a red crisis alert carries (issue 5). The engine attaches it; rules only name it.

Kept as plain constants so a channel can render it as one paragraph (:data:`RED_PLAYBOOK`) or as a
list (:data:`RED_PLAYBOOK_STEPS`), and the engine can schedule the post-mortem reminder from
:data:`POSTMORTEM_HOURS` after the alert resolves.
"""

from __future__ import annotations

RESPONSE_TEAM_HOURS = 2
POSTMORTEM_HOURS = 72

RED_PLAYBOOK_STEPS: tuple[str, ...] = (
    f"{RESPONSE_TEAM_HOURS}小时内组建应对小组（公关、客服、产品、法务），指定负责人，统一对外口径。",
    "发布公开声明，必须包含三部分：事实确认、处理进展、补偿方案；不使用回避、推诿或模糊措辞"
    "（如“个别现象”“正在了解”“以官方通报为准”）。",
    f"预警解除后{POSTMORTEM_HOURS}小时内完成复盘：时间线、根本原因、处置得失、改进措施与负责人；竞哨会在群内提醒。",
)

RED_PLAYBOOK = "红色预警处置要求：\n" + "\n".join(f"{i}. {step}" for i, step in enumerate(RED_PLAYBOOK_STEPS, 1))

POSTMORTEM_REMINDER = (
    "{brand} 的红色预警已于 {resolved_at} 解除，请在 " + str(POSTMORTEM_HOURS) + " 小时内（{due} 前）完成复盘："
    "时间线、根本原因、处置得失、改进措施与负责人。"
)
