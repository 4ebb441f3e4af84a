"""Column mappings of typical Chinese order and member exports, as plain data.

Each mapping names, per canonical field, the header spellings it accepts (first match wins,
compared after trimming spaces and a UTF-8 BOM; English headers compare case-insensitively).
Edit these dicts to teach ``siyu import`` a new export; no code change is needed.
:mod:`.cells` reads one cell (amounts, local times); :mod:`.exports` reads the files.

Canonical order fields: ``order_id``, ``user_id``, ``member_id``, ``phone``, ``email``,
``unionid``, ``taobao_buyer_id``, ``jd_buyer_id`` (identifiers); ``amount`` (yuan) or
``amount_fen``; ``refund`` (yuan, subtracted); ``ordered_at``, ``paid_at``; ``status``;
``store_id``, ``product_id``, ``product_name``, ``quantity``.

Canonical member fields: the identifiers above plus ``name``, ``gender``, ``birthday``,
``level``, ``points``, ``store_id`` (registered store) and ``registered_at``.
"""

from __future__ import annotations

from typing import Final

Columns = dict[str, tuple[str, ...]]

SOURCES: Final = ("taobao", "jd", "pos", "generic")

# Fields that carry an identifier, in the order the strongest is chosen as the row's key.
ID_FIELDS: Final = (
    "user_id",
    "member_id",
    "unionid",
    "taobao_buyer_id",
    "jd_buyer_id",
    "phone",
    "email",
)

# Identifier fields that are personal information (never shown or keyed in clear).
PII_FIELDS: Final = frozenset({"phone", "email"})

_POS_ORDERS: Columns = {
    "order_id": ("order_no", "order_id", "单号", "订单号", "小票号", "流水号"),
    "member_id": ("member_no", "member_id", "card_no", "会员号", "会员卡号", "会员编号"),
    "phone": ("phone", "mobile", "手机号", "会员手机号", "手机"),
    "unionid": ("unionid", "union_id"),
    "amount": ("amount", "paid_amount", "实收金额", "实付金额", "金额"),
    "amount_fen": ("amount_fen", "paid_fen"),
    "refund": ("refund_amount", "退款金额"),
    "ordered_at": ("paid_at", "ordered_at", "created_at", "sale_time", "销售时间", "下单时间"),
    "status": ("status", "状态"),
    "store_id": ("store_id", "store_no", "shop_id", "门店编号", "门店号", "门店"),
    "product_id": ("sku", "sku_id", "product_id", "商品编码"),
    "product_name": ("product_name", "item_name", "商品名称", "品名"),
    "quantity": ("qty", "quantity", "数量"),
}

ORDER_COLUMNS: Final[dict[str, Columns]] = {
    "taobao": {
        "order_id": ("订单编号", "主订单编号", "订单号"),
        "taobao_buyer_id": ("买家会员名", "买家昵称", "买家会员ID", "买家ID"),
        "phone": ("联系手机", "收货人手机号", "收货人手机", "联系电话"),
        "amount": ("买家实际支付金额", "实付金额", "总金额"),
        "refund": ("退款金额",),
        "ordered_at": ("订单付款时间", "付款时间", "订单创建时间", "创建时间"),
        "status": ("订单状态",),
        "store_id": ("店铺Id", "店铺ID", "店铺名称"),
        "product_id": ("商品ID", "宝贝ID"),
        "product_name": ("宝贝标题", "商品标题"),
        "quantity": ("宝贝总数量", "购买数量"),
    },
    "jd": {
        "order_id": ("订单号", "订单编号"),
        "jd_buyer_id": ("下单帐号", "下单账号", "客户账号", "用户账号", "买家账号"),
        "phone": ("联系电话", "收货人电话", "客户电话", "手机号"),
        "amount": ("应付金额", "订单金额", "结算金额"),
        "ordered_at": ("付款确认时间", "下单时间"),
        "status": ("订单状态",),
        "store_id": ("店铺名称", "店铺ID"),
        "product_id": ("商品ID", "商品编号", "SKU"),
        "product_name": ("商品名称",),
        "quantity": ("订购数量", "商品数量"),
    },
    "pos": _POS_ORDERS,
    "generic": {
        "order_id": ("order_id", "order_no", "id"),
        "user_id": ("user_id", "userid", "customer_id", "account_id"),
        "member_id": ("member_id", "member_no"),
        "phone": ("phone", "mobile"),
        "email": ("email",),
        "unionid": ("unionid", "union_id"),
        "taobao_buyer_id": ("taobao_buyer_id",),
        "jd_buyer_id": ("jd_buyer_id",),
        "amount": ("amount", "revenue", "total"),
        "amount_fen": ("amount_fen", "revenue_fen", "total_fen"),
        "refund": ("refund", "refund_amount"),
        "ordered_at": ("ordered_at", "paid_at", "created_at", "timestamp", "time"),
        "status": ("status",),
        "store_id": ("store_id",),
        "product_id": ("product_id", "sku"),
        "product_name": ("product_name",),
        "quantity": ("quantity", "qty"),
    },
}

MEMBER_COLUMNS: Final[dict[str, Columns]] = {
    "taobao": {
        "taobao_buyer_id": ("买家会员名", "买家昵称", "客户昵称", "会员名"),
        "phone": ("手机号", "手机号码", "联系手机"),
        "name": ("姓名", "客户姓名"),
        "gender": ("性别",),
        "birthday": ("生日", "出生日期"),
        "level": ("会员等级", "会员级别"),
        "points": ("积分", "可用积分"),
        "registered_at": ("入会时间", "注册时间"),
        "email": ("邮箱",),
    },
    "jd": {
        "jd_buyer_id": ("用户账号", "客户账号", "下单帐号", "京东账号"),
        "phone": ("手机号", "联系电话"),
        "name": ("姓名", "客户姓名"),
        "gender": ("性别",),
        "birthday": ("生日",),
        "level": ("会员等级",),
        "points": ("积分", "京豆"),
        "registered_at": ("开卡时间", "入会时间"),
    },
    "pos": {
        "member_id": ("member_no", "member_id", "card_no", "会员号", "会员卡号", "会员编号"),
        "phone": ("phone", "mobile", "手机号", "手机"),
        "name": ("name", "姓名"),
        "gender": ("gender", "sex", "性别"),
        "birthday": ("birthday", "生日"),
        "level": ("level", "tier", "会员等级", "等级"),
        "points": ("points", "积分"),
        "store_id": ("store_id", "register_store", "注册门店", "开卡门店"),
        "registered_at": ("registered_at", "register_time", "注册时间", "开卡时间"),
        "unionid": ("unionid", "union_id"),
        "email": ("email", "邮箱"),
    },
    "generic": {
        "user_id": ("user_id", "userid", "customer_id", "account_id"),
        "member_id": ("member_id", "member_no", "会员号"),
        "phone": ("phone", "mobile", "手机号"),
        "email": ("email", "邮箱"),
        "unionid": ("unionid", "union_id"),
        "taobao_buyer_id": ("taobao_buyer_id",),
        "jd_buyer_id": ("jd_buyer_id",),
        "name": ("name", "姓名"),
        "gender": ("gender", "性别"),
        "birthday": ("birthday", "生日"),
        "level": ("level", "等级"),
        "points": ("points", "积分"),
        "store_id": ("store_id", "registered_store"),
        "registered_at": ("registered_at", "created_at", "注册时间"),
    },
}

# What the acquisition channel (utm_source) of an imported order is, per source.
SOURCE_CHANNELS: Final[dict[str, str]] = {"taobao": "taobao", "jd": "jd", "pos": "store"}

# Order statuses that are not a sale (unpaid, cancelled, closed, fully refunded).
# Compared as substrings of the lower-cased status, so "交易关闭(退款)" matches "交易关闭".
NOT_SOLD_STATUSES: Final = (
    "交易关闭",
    "等待买家付款",
    "未付款",
    "待付款",
    "等待付款",
    "已取消",
    "取消",
    "删除",
    "作废",
    "已退款",
    "全额退款",
    "cancel",
    "closed",
    "refunded",
    "unpaid",
    "pending_payment",
    "void",
)
