"""Deterministic Chinese reviews for the demo shop's products (ground truth for the reviews spider).

Every reviewed product gets a few hundred reviews built from clause templates: praise and complaints
about 物流, 质量, 尺码, 客服, 包装, 价格 and the category's own aspects (屏幕/续航/性能 for electronics,
舒适度 for shoes, 味道/新鲜度/分量 for food), with negation and degree words (不太好, 一点都不快,
超级快, 偏小, 有点色差), emoji, a few English or mixed texts, long ones and 追评 (follow-ups).

Reviews come in batches: batch 0 is visible from shop state 0, batch ``n`` appears at state ``n``
with ~20 newer reviews on top. :func:`demo_reviews` lists what a shop state shows, newest first.
All dates are fixed (the newest review of the last state is on 2026-11-21), so the data is the same on
every run and machine. Each :class:`DemoReview` carries the aspects its clauses express, as a
hand-checked (aspect, polarity) set for preference-tag measurements.

In state 2 the nuts (``songshu-632145678901``) get a burst of complaints about stale nuts, so a
"spike of negative reviews on a competitor product" rule has something to find.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from jingshao.demo.catalog import ITEMS_BY_ID, STATE_COUNT, ShopItem, check_state

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Reviews of batch 0 are posted in the 180 days before this instant; later batches follow it.
REVIEW_EPOCH = datetime(2026, 11, 16, 0, 0, tzinfo=SHANGHAI)
BASE_SPAN_DAYS = 180
BATCH_SPAN_DAYS = 3
NEW_REVIEWS_PER_STATE = 20

POS, NEG = "pos", "neg"


@dataclass(frozen=True)
class DemoReview:
    """One review as a correct crawl stores it (text whitespace-normalised, like the sites show it)."""

    id: str
    rating: int
    text: str
    posted_at: datetime
    variant: str
    helpful: int
    has_images: bool
    followup: str | None
    followup_at: datetime | None
    polarity: str
    aspects: list[tuple[str, str]]
    images: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()  # (option name, chosen value), e.g. ("颜色", "黑色")


@dataclass(frozen=True)
class ReviewPlan:
    """How one product's reviews look: category lexicon, volume, tone and which site shape serves them."""

    product_id: str
    category: str  # "electronics" | "audio" | "shoes" | "food"
    shape: str  # "jd" | "youpin" | "tmall" | "songshu"
    base_count: int
    positive_share: float
    spike_state: int | None = None  # a state whose batch is mostly complaints


PLANS: dict[str, ReviewPlan] = {
    plan.product_id: plan
    for plan in (
        ReviewPlan("youpin-10001", "electronics", "youpin", 260, 0.85),
        ReviewPlan("youpin-10002", "electronics", "youpin", 320, 0.75),
        ReviewPlan("youpin-10003", "audio", "youpin", 240, 0.80),
        ReviewPlan("youpin-10004", "audio", "youpin", 220, 0.82),
        ReviewPlan("jd-100012043978", "electronics", "jd", 380, 0.78),
        ReviewPlan("tmall-660123456789", "shoes", "tmall", 300, 0.72),
        ReviewPlan("songshu-632145678901", "food", "songshu", 280, 0.80, spike_state=2),
    )
}

# --- clause lexicon: aspect -> polarity -> phrases (aspect word as written, opinion, negation) -------

Lexicon = dict[str, dict[str, tuple[str, ...]]]

COMMON: Lexicon = {
    "物流": {
        POS: (
            "物流超级快",
            "快递很给力，隔天就到了",
            "发货速度很快",
            "顺丰发货，速度没得说",
            "物流不慢，两天就到",
            "快递非常快，下午下单第二天早上就收到了",
        ),
        NEG: (
            "物流一点都不快",
            "快递太慢了，等了整整一个星期",
            "发货很慢，催了好几次才发",
            "物流信息三天都不更新",
            "快递不太给力",
            "送货不上门，还得自己去驿站拿",
        ),
    },
    "客服": {
        POS: ("客服很耐心", "客服态度很好，有问必答", "售后处理很及时", "客服小姐姐服务超级好"),
        NEG: ("客服态度很差", "客服一直不回复", "售后推来推去，一点都不负责", "客服爱答不理的"),
    },
    "包装": {
        POS: ("包装很严实", "包装精美，送人很有面子", "包装完好无损", "包装很用心"),
        NEG: ("包装太简陋了", "外包装破损了", "盒子都压扁了", "包装不太严实"),
    },
    "价格": {
        POS: ("性价比很高", "价格实惠", "活动价很划算", "这个价格非常值"),
        NEG: ("价格偏贵", "性价比不高", "刚买就降价了，心塞", "价格有点贵，不太值"),
    },
}

ELECTRONICS: Lexicon = {
    "质量": {
        POS: ("质量很好", "做工精细", "质量杠杠的", "做工不差，用料扎实", "品质没得说"),
        NEG: ("质量不太好", "做工粗糙", "用了两周就坏了", "质量一般般，有点失望", "质量真的不行"),
    },
    "屏幕": {
        POS: ("屏幕很清晰", "屏幕显示细腻，色彩好看", "屏幕素质超级好", "屏幕非常亮"),
        NEG: ("屏幕有点偏黄", "屏幕有亮点", "屏幕不太清楚", "屏幕边缘漏光"),
    },
    "续航": {
        POS: ("电池很耐用", "续航超级强，一天一充", "待机时间长", "续航比预期好很多"),
        NEG: ("续航一点都不行", "电池掉电很快", "电池不太耐用，半天就没电", "待机太短了"),
    },
    "性能": {
        POS: ("运行很流畅", "速度很快，打游戏不卡", "反应灵敏", "系统很流畅"),
        NEG: ("有点卡顿", "发热严重", "玩游戏很烫", "运行不太流畅"),
    },
    "外观": {
        POS: ("颜值很高", "外观漂亮", "颜色很正", "手感很好，外观很精致"),
        NEG: ("有点色差", "颜色跟图片不一样", "外观有划痕", "边框有磕碰"),
    },
}

AUDIO: Lexicon = {
    "质量": ELECTRONICS["质量"],
    "音质": {
        POS: ("音质很棒", "低音很足，听歌很享受", "音质超级清晰", "音质不错，人声很干净"),
        NEG: ("音质一般", "有杂音", "音质不太行，高音刺耳", "音质没有想象中好"),
    },
    "降噪": {
        POS: ("降噪效果超级好", "降噪很强，地铁上也很安静", "降噪效果非常明显"),
        NEG: ("降噪效果不太明显", "降噪一般般", "降噪几乎没什么用"),
    },
    "续航": {
        POS: ("续航很长", "电池很耐用，一周一充", "续航超级给力"),
        NEG: ("续航一点都不长", "电池不太耐用", "没用多久就没电了"),
    },
    "舒适度": {
        POS: ("戴着很舒服", "戴久了也不累", "佩戴很舒适"),
        NEG: ("戴久了耳朵疼", "有点夹头", "佩戴不太舒服"),
    },
}

SHOES: Lexicon = {
    "质量": {
        POS: ("质量很好", "做工精细，没有线头", "鞋子质量杠杠的", "做工不差，用料扎实"),
        NEG: ("质量不太好", "做工很差，到处是线头", "穿了两周就开胶了", "鞋底质量一般般"),
    },
    "尺码": {
        POS: ("尺码标准", "大小合适，按平时的码买就行", "码数正好", "尺码很准"),
        NEG: ("尺码偏小", "鞋码偏大，建议拍小一码", "大小不合适，有点挤脚", "尺码不准"),
    },
    "舒适度": {
        POS: ("穿着很舒服", "脚感很软，跑步很轻", "脚感超级好", "穿一天都不累"),
        NEG: ("有点磨脚", "穿着不舒服", "鞋底太硬了", "脚感一点都不好"),
    },
    "外观": {
        POS: ("颜值很高", "鞋子很好看", "颜色很正", "上脚很好看"),
        NEG: ("有点色差", "颜色跟图片不一样", "鞋面有污渍", "款式没有图片好看"),
    },
}

FOOD: Lexicon = {
    "味道": {
        POS: ("味道很好", "口感酥脆", "很香很好吃", "坚果很香，一点都不苦", "口感超级好"),
        NEG: ("味道一般", "口感不脆", "不好吃", "味道怪怪的", "有点苦"),
    },
    "新鲜度": {
        POS: ("很新鲜", "日期很新", "颗粒饱满很新鲜", "生产日期很新鲜"),
        NEG: ("不新鲜", "有点受潮", "有哈喇味，像是陈货", "生产日期都快过期了", "好几颗都发霉了"),
    },
    "分量": {
        POS: ("分量很足", "量很足，一袋刚好", "分量超级足"),
        NEG: ("分量太少了", "每袋就几颗", "分量不足"),
    },
}

CATEGORY_LEXICONS: dict[str, Lexicon] = {
    "electronics": {**COMMON, **ELECTRONICS},
    "audio": {**COMMON, **AUDIO},
    "shoes": {**COMMON, **SHOES},
    "food": {**COMMON, **FOOD},
}

#: The category's own aspects are picked more often than the common ones.
COMMON_WEIGHT, OWN_WEIGHT = 1.0, 2.2

OPENERS = {
    POS: ("", "", "收到了，", "第二次购买了，", "帮家人买的，", "等了好久终于入手，", "双十一入手的，"),
    NEG: ("", "", "说实话很失望，", "第一次在这家买，", "收到货就发现问题，"),
}
CLOSERS = {
    POS: ("", "", "，会回购的", "，推荐购买", "，五星好评", "！", "，满意"),
    NEG: ("", "，不会再买了", "，差评", "，后悔买了", "，大家慎重"),
}
MIXED_JOINERS = ("，就是", "，但是", "，不过")
EMOJI = {POS: ("👍", "😄", "❤️", "🎉", "👍👍"), NEG: ("😡", "😤", "👎", "💔")}
FILLERS = ("用了一段时间才来评价。", "对比了好几家才下单的。", "618活动的时候买的。", "给老爸买的生日礼物。")

#: English / mixed reviews with their (aspect, polarity) truth.
ENGLISH = {
    POS: (
        ("Good quality and fast delivery, highly recommend!", (("质量", POS), ("物流", POS))),
        ("Great value for money, the package arrived in perfect shape.", (("价格", POS), ("包装", POS))),
        ("质量很nice，物流也超fast", (("质量", POS), ("物流", POS))),
        ("客服very patient，推荐！", (("客服", POS),)),
    ),
    NEG: (
        ("Terrible customer service, never again.", (("客服", NEG),)),
        ("Shipping was super slow and the box was damaged.", (("物流", NEG), ("包装", NEG))),
        ("物流太slow了，等了一周", (("物流", NEG),)),
    ),
}

FOLLOWUPS = {
    POS: (
        "用了一个月了，依然很好用",
        "追评：又回购了一次，品质很稳定",
        "用了半个月，没发现什么问题，好评",
        "家里人都说好，准备再买一个",
    ),
    NEG: (
        "用了半个月就出问题了，联系客服也没用",
        "追评：问题越来越严重，申请退货了",
        "后来越用越失望，不推荐",
        "追评：售后到现在都没处理",
    ),
}

SPIKE_CLAUSES = (
    ("新鲜度", "这批坚果有哈喇味，明显是陈货"),
    ("新鲜度", "打开就是一股油耗味，都受潮了"),
    ("新鲜度", "好几袋都发霉了，不敢吃"),
    ("味道", "味道变了，跟以前买的完全不一样"),
    ("质量", "袋子里有虫，太恶心了"),
)


# --- generation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clause:
    aspect: str
    polarity: str
    text: str


def _pick_aspects(rng: random.Random, lexicon: Lexicon, category_own: set[str], k: int) -> list[str]:
    names = list(lexicon)
    weights = [OWN_WEIGHT if name in category_own else COMMON_WEIGHT for name in names]
    chosen: list[str] = []
    while len(chosen) < k:
        name = rng.choices(names, weights)[0]
        if name not in chosen:
            chosen.append(name)
    return chosen


def _clauses(rng: random.Random, lexicon: Lexicon, own: set[str], main: str, long: bool) -> list[_Clause]:
    k = rng.randint(4, 6) if long else rng.choices((1, 2, 3), (0.35, 0.45, 0.2))[0]
    aspects = _pick_aspects(rng, lexicon, own, k)
    polarities = [main] * k
    if k >= 2 and rng.random() < 0.3:  # a mixed review: one clause goes the other way, last
        polarities[-1] = NEG if main == POS else POS
    return [_Clause(a, p, rng.choice(lexicon[a][p])) for a, p in zip(aspects, polarities, strict=True)]


def _rating(rng: random.Random, main: str, mixed: bool) -> int:
    if main == POS:
        return rng.choices((4, 3), (0.7, 0.3))[0] if mixed else rng.choices((5, 4), (0.8, 0.2))[0]
    return rng.choices((2, 3), (0.7, 0.3))[0] if mixed else rng.choices((1, 2), (0.6, 0.4))[0]


def _compose(rng: random.Random, clauses: list[_Clause], main: str, long: bool) -> str:
    parts = [clauses[0].text]
    for clause in clauses[1:]:
        joiner = "，" if clause.polarity == main else rng.choice(MIXED_JOINERS if main == POS else MIXED_JOINERS[1:])
        parts.append(joiner + clause.text)
    body = "".join(parts)
    if long:
        before, after = rng.sample(FILLERS, 2)
        text = before + body + rng.choice([c for c in CLOSERS[main] if c != "！"]) + "。" + after
    else:
        text = rng.choice(OPENERS[main]) + body + rng.choice(CLOSERS[main])
    if rng.random() < 0.15:
        text += rng.choice(EMOJI[main])
    return text


@dataclass(frozen=True)
class _Draft:
    text: str
    rating: int
    polarity: str
    aspects: list[tuple[str, str]]
    long: bool


def _draft(rng: random.Random, plan: ReviewPlan, positive_share: float) -> _Draft:
    lexicon = CATEGORY_LEXICONS[plan.category]
    own = set(lexicon) - set(COMMON)
    main = POS if rng.random() < positive_share else NEG
    if rng.random() < 0.04:
        text, aspects = rng.choice(ENGLISH[main])
        return _Draft(text, _rating(rng, main, False), main, list(aspects), False)
    long = rng.random() < 0.06
    clauses = _clauses(rng, lexicon, own, main, long)
    mixed = any(c.polarity != main for c in clauses)
    text = _compose(rng, clauses, main, long)
    return _Draft(text, _rating(rng, main, mixed), main, [(c.aspect, c.polarity) for c in clauses], long)


def _spike_draft(rng: random.Random) -> _Draft:
    picks = rng.sample(SPIKE_CLAUSES, rng.randint(1, 2))
    text = "，".join(t for _, t in picks) + rng.choice(("，差评", "，再也不买了", "！", "，要求退款"))
    if rng.random() < 0.3:
        text += rng.choice(EMOJI[NEG])
    return _Draft(text, rng.choice((1, 1, 2)), NEG, [(a, NEG) for a, _ in picks], False)


def _options(rng: random.Random, item: ShopItem) -> tuple[tuple[str, str], ...]:
    return tuple((name, rng.choice(values)) for name, values in item.options)


def variant_text(shape: str, options: tuple[tuple[str, str], ...]) -> str:
    """The variant string a crawl reads: JD-like JSON has the colour alone in ``productColor``; the
    Tmall-like list and the offset API show every option as ``名称:值``, space separated."""
    if shape in ("jd", "youpin"):
        return options[0][1] if options else ""
    return " ".join(f"{name}:{value}" for name, value in options)


def _times(rng: random.Random, start: datetime, span: timedelta, n: int, *, whole_minutes: bool) -> list[datetime]:
    """``n`` distinct ascending instants in ``[start, start + span)``, mostly in waking hours."""
    seconds = int(span.total_seconds())
    picked: set[datetime] = set()
    while len(picked) < n:
        t = start + timedelta(seconds=rng.randrange(seconds))
        if t.hour < 7 and rng.random() < 0.8:
            continue
        picked.add(t.replace(second=0) if whole_minutes else t)
    return sorted(picked)


def _batch_window(batch: int) -> tuple[datetime, timedelta]:
    if batch == 0:
        return REVIEW_EPOCH - timedelta(days=BASE_SPAN_DAYS), timedelta(days=BASE_SPAN_DAYS)
    return REVIEW_EPOCH + timedelta(days=BATCH_SPAN_DAYS * (batch - 1)), timedelta(days=BATCH_SPAN_DAYS)


def _followup(
    rng: random.Random, draft: _Draft, posted: datetime, batch_end: datetime
) -> tuple[str | None, datetime | None]:
    room = (batch_end - posted).days
    if room < 8 or rng.random() > (0.25 if draft.long else 0.08):
        return None, None
    polarity = draft.polarity if rng.random() < 0.8 else (NEG if draft.polarity == POS else POS)
    when = posted + timedelta(days=rng.randint(7, min(60, room - 1)), minutes=rng.randint(0, 600))
    return rng.choice(FOLLOWUPS[polarity]), when.replace(second=0)


def _images(rng: random.Random, draft: _Draft) -> tuple[str, ...]:
    if rng.random() > (0.6 if draft.long else 0.25):
        return ()
    return tuple(f"/static/img/{rng.randint(48, 63)}.png" for _ in range(rng.randint(1, 4)))


def _helpful(rng: random.Random, draft: _Draft, age_days: float) -> int:
    votes = int(rng.expovariate(1 / 3) + age_days / 60)
    return votes * (4 if draft.long else 1)


_ID_BASES = {"jd": 20_000_000_000, "youpin": 90_000_000, "tmall": 1_130_000_000_000, "songshu": 5_800_000}


@cache
def _all_reviews(product_id: str) -> tuple[tuple[DemoReview, ...], ...]:
    """Every batch of ``product_id``'s reviews, each oldest first."""
    plan = PLANS[product_id]
    item = ITEMS_BY_ID[product_id]
    rng = random.Random(f"jingshao-demo-reviews-{product_id}")
    next_id = _ID_BASES[plan.shape] + rng.randrange(1_000_000)
    batches: list[tuple[DemoReview, ...]] = []
    for batch in range(STATE_COUNT):
        count = plan.base_count if batch == 0 else NEW_REVIEWS_PER_STATE
        start, span = _batch_window(batch)
        share = 0.2 if batch == plan.spike_state else plan.positive_share
        reviews = []
        for posted in _times(rng, start, span, count, whole_minutes=plan.shape == "tmall"):
            spike = batch == plan.spike_state and rng.random() > share
            draft = _spike_draft(rng) if spike else _draft(rng, plan, share)
            next_id += rng.randint(1, 5000)
            followup, followup_at = _followup(rng, draft, posted, start + span)
            images = _images(rng, draft)
            options = _options(rng, item)
            reviews.append(
                DemoReview(
                    id=str(next_id),
                    rating=draft.rating,
                    text=draft.text,
                    posted_at=posted,
                    variant=variant_text(plan.shape, options),
                    helpful=_helpful(rng, draft, (start + span - posted).days),
                    has_images=bool(images),
                    followup=followup,
                    followup_at=followup_at,
                    polarity=draft.polarity,
                    aspects=draft.aspects,
                    images=images,
                    options=options,
                )
            )
        batches.append(tuple(reviews))
    return tuple(batches)


def reviewed_product_ids() -> list[str]:
    """Products with reviews (every priced demo product; the delisted camera has none)."""
    return list(PLANS)


def demo_reviews(product_id: str, state: int) -> list[DemoReview]:
    """The reviews shop state ``state`` shows for ``product_id``, newest first.

    State ``n`` shows everything of state ``n - 1`` plus :data:`NEW_REVIEWS_PER_STATE` newer ones on top.
    """
    check_state(state)
    if product_id not in PLANS:
        raise KeyError(f"demo product {product_id!r} has no reviews; reviewed: {', '.join(PLANS)}")
    batches = _all_reviews(product_id)[: state + 1]
    return [review for batch in reversed(batches) for review in reversed(batch)]
