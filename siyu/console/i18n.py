"""The console's message catalogue: every visible string, in Chinese (default) and English.

Keys are dotted by area (``nav.*``, ``overview.*``…); :func:`translate` fills ``{name}``
placeholders. A test checks that both languages have exactly the same keys.
"""

# Messages stay on one line each: a Chinese sentence split across lines is hard to review.
# ruff: noqa: E501

from __future__ import annotations

DEFAULT_LANGUAGE = "zh"
LANGUAGES = ("zh", "en")

ZH: dict[str, str] = {
    "app.name": "思域 siyu",
    "chart.font": "PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif",
    "chart.table_view": "表格视图",
    "chart.no_data": "暂无数据",
    "chart.no_data_hint": "数据接入后这里会出现图表：用 SDK 或 /v1/batch 上报事件，或运行 siyu demo。",
    "shell.workspace": "工作空间",
    "shell.add_workspace": "登录另一个工作空间",
    "shell.sign_out": "退出",
    "nav.overview": "概览",
    "nav.people": "用户",
    "nav.segments": "标签与分群",
    "nav.analytics": "分析",
    "nav.loyalty": "会员与积分",
    "nav.growth": "增长",
    "nav.journeys": "旅程",
    "nav.channels": "渠道与设置",
    "login.title": "登录控制台",
    "login.secret_key": "工作空间密钥 (secret key)",
    "login.submit": "登录",
    "login.key_required": "请输入密钥",
    "login.unknown_key": "密钥无效：请检查后重试",
    "login.hint": "使用创建工作空间时显示的 secret key（siyu workspace create，或 siyu demo 打印的密钥）。",
    "unit.yuan": "元",
    "unit.orders": "订单",
    "unit.persons": "人",
    "col.day": "日期",
    "col.buyers": "下单人数",
    "kpi.gmv": "GMV",
    "kpi.orders": "订单数",
    "kpi.new": "新增用户",
    "kpi.active": "活跃用户",
    "kpi.repurchase": "复购率 (近90天)",
    "overview.period_note": "最近 7 个完整自然日，与之前 7 天对比（工作空间时区）。",
    "overview.trend": "近 30 天 GMV 与订单趋势",
    "overview.no_orders_hint": "最近 30 天没有订单事件（Order Completed）。",
    "overview.empty": "最近两周没有任何事件",
    "overview.empty_hint": "接入 Web/小程序 SDK 或调用 /v1/batch 上报事件；想先看效果可运行 siyu demo。",
    "overview.aarrr": "AARRR 看板",
    "overview.rarra": "RARRA 看板（留存优先）",
    "stage.acquisition": "获客 Acquisition",
    "stage.activation": "激活 Activation",
    "stage.retention": "留存 Retention",
    "stage.revenue": "变现 Revenue",
    "stage.referral": "推荐 Referral",
    "stage_def.acquisition": "本期首次出现的用户，按带来他们的渠道统计。",
    "stage_def.activation": "本期新用户中完成关键行为（加购、下单）的人。",
    "stage_def.retention": "回来的用户：本期活跃且之前出现过。",
    "stage_def.revenue": "本期的订单与 GMV。",
    "stage_def.referral": "老带新（裂变）：用户带来用户。",
    "metric.new": "新用户",
    "metric.active": "活跃用户",
    "metric.activated": "激活用户",
    "metric.activation_rate": "激活率",
    "metric.returning": "回访用户",
    "metric.retained": "留存用户",
    "metric.retention_rate": "留存率",
    "metric.buyers": "下单人数",
    "metric.orders": "订单数",
    "metric.gmv_fen": "GMV",
    "metric.aov_fen": "客单价",
    "metric.arpu_fen": "ARPU",
    "metric.paying_rate": "付费率",
    "metric.repeat_buyers": "复购人数",
    "metric.referrers": "分享人数",
    "metric.referred": "受邀人数",
    "metric.referred_buyers": "受邀下单人数",
    "metric.referred_gmv_fen": "受邀 GMV",
    "metric.referral_gmv_share": "受邀 GMV 占比",
}

EN: dict[str, str] = {
    "app.name": "siyu",
    "chart.font": "Inter, Helvetica, Arial, sans-serif",
    "chart.table_view": "Table view",
    "chart.no_data": "No data yet",
    "chart.no_data_hint": "Charts appear once events arrive: send them with an SDK or "
    "/v1/batch, or run siyu demo.",
    "shell.workspace": "Workspace",
    "shell.add_workspace": "Sign in to another workspace",
    "shell.sign_out": "Sign out",
    "nav.overview": "Overview",
    "nav.people": "People",
    "nav.segments": "Tags & segments",
    "nav.analytics": "Analytics",
    "nav.loyalty": "Loyalty",
    "nav.growth": "Growth",
    "nav.journeys": "Journeys",
    "nav.channels": "Channels & settings",
    "login.title": "Sign in to the console",
    "login.secret_key": "Workspace secret key",
    "login.submit": "Sign in",
    "login.key_required": "Enter the secret key",
    "login.unknown_key": "Unknown key: check it and try again",
    "login.hint": "Use the secret key shown when the workspace was created (siyu workspace "
    "create, or the key siyu demo prints).",
    "unit.yuan": "CNY",
    "unit.orders": "orders",
    "unit.persons": "persons",
    "col.day": "Day",
    "col.buyers": "Buyers",
    "kpi.gmv": "GMV",
    "kpi.orders": "Orders",
    "kpi.new": "New users",
    "kpi.active": "Active users",
    "kpi.repurchase": "Repurchase rate (90 days)",
    "overview.period_note": "The last 7 complete days against the 7 before (workspace zone).",
    "overview.trend": "GMV and orders, last 30 days",
    "overview.no_orders_hint": "No Order Completed events in the last 30 days.",
    "overview.empty": "No events in the last two weeks",
    "overview.empty_hint": "Add the web or mini-program SDK, or send events to /v1/batch; run "
    "siyu demo to try it on a sample brand.",
    "overview.aarrr": "AARRR board",
    "overview.rarra": "RARRA board (retention first)",
    "stage.acquisition": "Acquisition",
    "stage.activation": "Activation",
    "stage.retention": "Retention",
    "stage.revenue": "Revenue",
    "stage.referral": "Referral",
    "stage_def.acquisition": "Persons seen for the first time in the period, by the channel "
    "that brought them.",
    "stage_def.activation": "New persons who did a key action (add to cart, order) in the period.",
    "stage_def.retention": "Persons who came back: active now and seen before.",
    "stage_def.revenue": "Orders and GMV of the period.",
    "stage_def.referral": "Customers bringing customers (fission).",
    "metric.new": "New users",
    "metric.active": "Active users",
    "metric.activated": "Activated",
    "metric.activation_rate": "Activation rate",
    "metric.returning": "Returning",
    "metric.retained": "Retained",
    "metric.retention_rate": "Retention rate",
    "metric.buyers": "Buyers",
    "metric.orders": "Orders",
    "metric.gmv_fen": "GMV",
    "metric.aov_fen": "Average order value",
    "metric.arpu_fen": "ARPU",
    "metric.paying_rate": "Paying rate",
    "metric.repeat_buyers": "Repeat buyers",
    "metric.referrers": "Referrers",
    "metric.referred": "Referred",
    "metric.referred_buyers": "Referred buyers",
    "metric.referred_gmv_fen": "Referred GMV",
    "metric.referral_gmv_share": "Referred GMV share",
}

MESSAGES: dict[str, dict[str, str]] = {"zh": ZH, "en": EN}


def translate(lang: str, key: str, **values: object) -> str:
    """The message ``key`` in ``lang`` with ``{name}`` placeholders filled.

    An unknown language falls back to Chinese; an unknown key shows itself, so a missing
    message is visible rather than blank (the catalogue test keeps that from shipping).
    """
    catalogue = MESSAGES.get(lang, MESSAGES[DEFAULT_LANGUAGE])
    text = catalogue.get(key, key)
    return text.format(**values) if values else text
