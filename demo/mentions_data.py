"""Brand mentions of the demo brand 蜜橙 (a phone-accessory maker) and what a correct crawl finds.

The name is ambiguous on purpose: 蜜橙 is also a fruit, so the sources carry fruit posts (果园, 斤,
好吃 ...) that the brand's exclusion words must drop, including a "315曝光" story about waxed fruit
that would look like a crisis if exclusion failed.

Background: every hour slot (Asia/Shanghai clock hours, derived from the slot number alone, so the
same hour always has the same posts) has a steady mix of mostly positive or neutral brand posts, an
occasional mild complaint (never with a crisis word, never from an authority-2/3 source), fruit posts,
unrelated items (feeds and the hot list are not searches), reposts with near-identical text and
syndicated news (same content, another URL). Forum threads show up both in the forum search and
in the forum's Atom feed; national articles both in the RSS feed and in the news search (same URL).

Crisis (:mod:`jingshao.demo.crisis`): bursts of negative posts, see :data:`CRISIS_BACKLOG`.
Unique brand negatives in the last hour right after a switch (background adds at most 2):

- phase 1: 6 (social 4, forum 2), one with 投诉 -> blue
- phase 2: +16 (social 9, forum 4, industry news 3 = authority 2) -> yellow
- phase 3: +54 (social 34, forum 10, news 6, national RSS 2 = authority 3, hot list 2 = authority 3) -> red

Reposts of crisis posts come on top (duplicates, not counted above).

:func:`expected_mentions` is the ground truth: one :class:`DemoMention` per (source, URL) a crawl
sees, for every item matching the brand's keywords or aliases (fruit ones with
``is_about_brand=False``), with ``duplicate_of`` set on URL and content duplicates.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from jingshao.core.textfold import fold
from jingshao.demo.crisis import SHANGHAI, CrisisSegment, floor_minute

DEMO_BRAND: dict[str, Any] = {
    "name": "蜜橙",
    "keywords": ["蜜橙"],
    "aliases": ["蜜橙科技", "蜜橙数码", "MiCheng"],
    "exclude": ["水果", "果园", "好吃", "斤", "橙子", "果农", "脐橙", "采摘", "甜", "榨汁"],
}

POS, NEG, NEU = "pos", "neg", "neu"
CRISIS_WORDS = ("投诉", "召回", "假货", "曝光", "维权", "315")
WINDOW = timedelta(days=7)

# Source keys -> (display name, authority). Names match demo_mention_sources().
RSS, ATOM, NEWS, FORUM, SOCIAL, HOT = "rss", "atom", "news", "forum", "social", "hot"
SOURCES: dict[str, tuple[str, int]] = {
    RSS: ("财经要闻RSS", 3),
    ATOM: ("机友论坛Atom", 1),
    NEWS: ("行业资讯搜索", 2),
    FORUM: ("机友论坛搜索", 1),
    SOCIAL: ("微博搜索", 1),
    HOT: ("热搜榜", 3),
}
RSS_LIMIT = 60  # the feed shows its newest 60 items
ATOM_LIMIT = 100
HOT_SIZE = 20

#: Per crisis phase: unique negative posts published at the switch, per source, and reposts of them.
CRISIS_BACKLOG: dict[int, dict[str, int]] = {
    1: {SOCIAL: 4, FORUM: 2},
    2: {SOCIAL: 9, FORUM: 4, NEWS: 3},
    3: {SOCIAL: 34, FORUM: 10, NEWS: 6, RSS: 2, HOT: 2},
}
CRISIS_REPOSTS = {1: 2, 2: 3, 3: 8}
#: New negatives per hour while a phase runs (social and forum).
CRISIS_RATE = {1: 6, 2: 16, 3: 50}


@dataclass(frozen=True)
class DemoMention:
    """One item a mentions crawl should see in one source."""

    url: str
    source: str
    title: str
    text: str
    posted_at: datetime
    author: str
    is_about_brand: bool
    polarity: str  # "pos" | "neg" | "neu"
    authority: int
    duplicate_of: str | None
    crisis: bool = False
    reposts: int = 0


@dataclass(frozen=True)
class Post:
    """A piece of content at one URL (``path``); it may appear in more than one source.

    ``about``: "brand", "fruit" or "other" (unrelated items of feeds and the hot list).
    ``copy_of``: path of the post this one reposts or syndicates (near-identical content).
    """

    id: str
    path: str
    home: str
    title: str
    text: str
    posted_at: datetime
    author: str
    about: str
    polarity: str
    copy_of: str | None = None
    crisis: bool = False
    reposts: int = 0
    heat: int = 0

    @property
    def sources(self) -> tuple[str, ...]:
        """Where the post appears, its home first."""
        if self.home == FORUM:
            return FORUM, ATOM
        if self.home == RSS and self.about == "brand":
            return RSS, NEWS
        return (self.home,)


def normalise_content(text: str) -> str:
    """Content key for near-duplicate detection: the shared fold, letters and digits only."""
    folded = fold(text)
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def matches_brand(text: str, brand: dict[str, Any] = DEMO_BRAND) -> bool:
    """Keyword or alias present and no exclusion word (the rule a correct crawl applies)."""
    names = [*brand["keywords"], *brand["aliases"]]
    low = fold(text)
    if not any(fold(str(n)) in low for n in names):
        return False
    return not any(fold(str(w)) in low for w in brand["exclude"])


# --- content pools ------------------------------------------------------------------------------

PRODUCTS = ("磁吸充电宝", "65W氮化镓充电器", "编织数据线", "手机壳", "无线充电板", "20000mAh充电宝", "车载充电器")

SOCIAL_BRAND = {
    POS: (
        "入手了蜜橙的{p}，小巧不压手，出门一天够用",
        "蜜橙{p}真香，笔记本手机一起充",
        "蜜橙这个{p}做工很扎实，用了半年没出问题",
        "朋友推荐的蜜橙{p}，手感很好，颜值在线",
        "#蜜橙# 新出的{p}颜色好好看，已下单",
        "蜜橙科技的售后挺靠谱，{p}换新很快",
        "出差必带蜜橙{p}，充电速度很快",
    ),
    NEU: (
        "有人用过蜜橙的{p}吗？和安克比怎么样",
        "蜜橙今天上新了{p}",
        "刷到蜜橙的直播间，在讲{p}的设计",
        "蜜橙{p}和倍思的哪个好，求推荐",
        "蜜橙数码的{p}打折了，要不要入",
    ),
    NEG: (
        "蜜橙的{p}用了两个月就接触不良了，有点失望",
        "蜜橙{p}比宣传的重不少，不太喜欢",
        "蜜橙{p}边缘有点割手",
        "蜜橙{p}充电时有点吵，噪音明显",
        "蜜橙这次{p}发货好慢，等了五天",
    ),
}
SOCIAL_FRUIT = (
    "今年的赣南蜜橙太甜了，果园直发10斤装只要39.9",
    "买了一箱蜜橙，又甜又多汁，太好吃了",
    "蜜橙上市了，老家果农忙着采摘",
    "水果店老板推荐的蜜橙榨汁真的绝了",
    "周末带娃去果园摘蜜橙，一斤才三块",
)
SOCIAL_USERS = (
    "数码小王子",
    "爱折腾的老李",
    "上海打工人",
    "科技测评君",
    "充电狂魔",
    "出差党小陈",
    "学生党阿杰",
    "摄影师Momo",
    "程序员小周",
    "宝妈日记",
    "极客阿飞",
    "通勤族大刘",
)

FORUM_BRAND = {
    POS: (
        ("蜜橙{p}开箱：小巧发热低", "用了一周，给笔记本和手机一起充，温度控制得不错，推荐。"),
        ("蜜橙{p}使用半年报告", "整体满意，做工比预期好，接口也没有松动。"),
        ("晒晒我的蜜橙{p}", "颜色很正，和手机很搭，朋友都问链接。"),
    ),
    NEU: (
        ("蜜橙和安克的{p}怎么选？", "预算两百左右，主要出差用，各位机友给点建议。"),
        ("蜜橙{p}支持哪些快充协议？", "想给老款安卓手机用，不知道能不能快充。"),
    ),
    NEG: (
        ("蜜橙{p}质量下滑了？", "以前买的很耐用，这次的两个月就不行了，接口松动。"),
        ("蜜橙{p}有点失望", "充电时有明显的电流声，晚上放床头很吵。"),
    ),
}
FORUM_ALIAS = (("MiCheng {p} 海外版评测", "MiCheng global version, build quality is solid and it charges fast."),)
FORUM_FRUIT = (("今年的蜜橙怎么样，甜不甜？", "想给家里买几斤蜜橙，有果园直发的推荐吗？"),)
FORUM_OTHER = (
    ("求推荐2000元左右的手机", "主要拍照和打游戏，预算两千左右。"),
    ("iPhone 15 续航实测", "重度使用一天还剩20%。"),
    ("澎湃OS更新后耗电快吗", "更新完感觉待机掉电快了一点。"),
    ("安克充电宝体验", "安克的做工一直很稳。"),
    ("机械键盘入坑指南", "茶轴红轴青轴怎么选，一篇讲清楚。"),
    ("家里宽带怎么选", "千兆宽带有必要吗？"),
)
FORUM_USERS = ("机友9527", "老炮儿", "搞机少年", "路过的咸鱼", "数码民工", "小白求助", "资深玩家", "版主小助手")

NEWS_BRAND = (
    ("蜜橙科技完成新一轮融资，加码氮化镓快充", "据悉，蜜橙科技本轮融资将主要用于快充芯片研发和供应链建设。", POS),
    ("蜜橙发布{p}新品，主打轻薄便携", "新品延续了蜜橙一贯的简洁设计，首发价格较上代下调。", POS),
    ("双十一数码配件榜单：蜜橙{p}销量同比增长", "多家平台数据显示，蜜橙配件类目销量稳步上升。", POS),
    ("蜜橙数码入驻更多线下渠道", "蜜橙数码表示，年内将新增三百家线下网点。", NEU),
)
NEWS_FRUIT = (
    ("赣南蜜橙开摘 果农喜迎丰收", "今年蜜橙产量增加，每斤收购价同比上涨两角。", POS),
    (
        "315曝光：部分果园蜜橙打蜡染色，消费者如何辨别",
        "记者调查发现，个别果园为卖相给蜜橙打蜡，购买水果时要注意辨别。",
        NEG,
    ),
)
NEWS_MEDIA = ("电商报", "数码快讯", "消费电子观察", "亿邦动力网", "科技前哨")

RSS_OTHER = (
    "国家统计局：社会消费品零售总额同比增长",
    "央行开展逆回购操作 维护流动性合理充裕",
    "多地出台促消费新政 发放数码产品补贴",
    "双十一快递业务量创新高",
    "工信部：推动消费电子产业高质量发展",
    "前三季度外贸进出口数据发布",
    "新能源汽车下乡活动启动",
    "全国铁路迎来出行高峰",
    "A股三大指数收涨",
    "跨境电商出口保持增长",
)
RSS_BRAND = (
    ("国货数码配件加速出海：蜜橙等品牌海外销量增长", "记者走访深圳多家企业，蜜橙科技负责人介绍海外业务进展。", POS),
    ("MiCheng 等国产快充品牌亮相国际消费电子展", "展会上，多家中国快充品牌展示了最新的氮化镓产品。", NEU),
)
RSS_FRUIT = (("赣南脐橙、蜜橙进入采摘季 多地果园迎来游客", "随着气温下降，蜜橙糖分积累，果园采摘游持续升温。", POS),)
RSS_MEDIA = ("央视财经", "人民日报", "新华社")

HOT_OTHER = (
    "#双十一预售开启#",
    "#今日冷空气到货#",
    "#某顶流官宣新剧#",
    "#高铁票开抢#",
    "#年轻人开始反向消费#",
    "#猫咪的迷惑行为#",
    "#多地初雪#",
    "#国足最新比赛#",
    "#考研倒计时#",
    "#新手机发布会#",
    "#周末去哪儿#",
    "#打工人午饭吃什么#",
    "#明星同款穿搭#",
    "#电影票房破纪录#",
    "#流感高发季#",
    "#外卖新规#",
    "#航天员出舱#",
    "#大学生就业季#",
    "#城市夜经济#",
    "#宠物医院价格#",
    "#冬季养生#",
    "#演唱会门票#",
)

CRISIS_PROBLEMS = (
    "充电时发烫鼓包",
    "用了一周就充不进电",
    "充着充着突然冒烟",
    "外壳烫得拿不住",
    "插上就跳闸",
    "接口烧黑了",
    "半夜充电时炸了",
    "刚拆封就有焦味",
)
CRISIS_TAILS = (
    "客服一直不回复",
    "售后推三阻四",
    "申请退货被拒",
    "太吓人了，大家千万别买",
    "已经向12315投诉了",
    "准备维权",
    "这种产品必须召回",
    "一定要曝光",
    "怀疑买到假货了",
    "差点出大事",
)
CRISIS_CITIES = ("北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "长沙", "苏州")
CRISIS_NEWS = (
    ("蜜橙充电宝鼓包投诉激增，官方客服回应称将核查", "近一周多地消费者反映蜜橙充电宝充电发烫鼓包。"),
    ("蜜橙充电宝质量问题发酵，多地消费者发起维权", "记者梳理发现，相关投诉集中在同一批次产品。"),
    ("投诉平台：蜜橙相关投诉一周超百条", "投诉内容主要涉及充电宝鼓包、售后拒绝退换。"),
    ("市场监管部门约谈蜜橙科技", "监管部门要求企业排查问题批次并妥善处理消费者诉求。"),
    ("蜜橙充电宝召回呼声渐高", "业内人士认为，涉事批次产品存在安全隐患，应尽快召回。"),
    ("蜜橙回应充电宝起火：正在调查，暂停相关批次销售", "多名用户反映充电宝起火，蜜橙尚未给出明确补偿方案。"),
)
CRISIS_NATIONAL = (
    (
        "央视财经：蜜橙充电宝被曝存在起火隐患，市场监管部门介入调查",
        "多地消费者投诉蜜橙充电宝起火鼓包，监管部门已介入。",
        "央视财经",
    ),
    ("人民日报：充电宝安全不容忽视，蜜橙产品问题引关注", "蜜橙充电宝起火事件暴露出部分企业质量把关不严。", "人民日报"),
)
CRISIS_HOT = (
    ("#蜜橙充电宝起火#", "多名网友称蜜橙充电宝充电时起火冒烟"),
    ("#蜜橙回应充电宝鼓包#", "蜜橙客服回应遭网友质疑"),
)
CRISIS_FORUM_TITLES = (
    "蜜橙充电宝鼓包了，有同样情况的吗？",
    "避雷蜜橙充电宝",
    "蜜橙售后太差了",
    "蜜橙充电宝冒烟，吓死了",
    "蜜橙这批充电宝是不是有问题",
    "大家的蜜橙充电宝还好吗",
)


# --- background ---------------------------------------------------------------------------------


def _slot_start(slot: int) -> datetime:
    return datetime.fromtimestamp(slot * 3600, SHANGHAI)


def _post_id(at: datetime, k: int) -> str:
    return f"{int(at.timestamp()) // 60}{k:04d}"


class _SlotBuilder:
    """Collects one hour slot's posts with unique ids."""

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.start = _slot_start(slot)
        self.rng = random.Random(f"jingshao-demo-mentions-{slot}")
        self.posts: list[Post] = []

    def at(self) -> datetime:
        return self.start + timedelta(minutes=self.rng.randrange(60))

    def add(self, home: str, prefix: str, at: datetime, **fields: Any) -> Post:
        pid = _post_id(at, len(self.posts))
        post = Post(id=pid, path=f"{prefix}{pid}{'.html' if home != SOCIAL else ''}", home=home, posted_at=at, **fields)
        self.posts.append(post)
        return post


_PREFIX = {
    RSS: "/news/national/",
    NEWS: "/news/a/",
    FORUM: "/forum/thread/",
    SOCIAL: "/social/status/",
    HOT: "/hot/topic/",
}


def _polarity(rng: random.Random, neg_share: float) -> str:
    r = rng.random()
    return NEG if r < neg_share else (NEU if r < neg_share + 0.3 else POS)


def _repost_text(text: str, rng: random.Random) -> str:
    """Near-identical text: other punctuation and spacing, same letters."""
    variant = text.replace("，", ", ").replace("？", "?").replace("：", ": ")
    return variant + rng.choice(("!!", "！", " 。", "~"))


def _social(b: _SlotBuilder) -> None:
    rng = b.rng
    for _ in range(1 + (rng.random() < 0.5) + (rng.random() < 0.2)):
        pol = POS if rng.random() < 0.6 else NEU
        _social_post(b, rng.choice(SOCIAL_BRAND[pol]).format(p=rng.choice(PRODUCTS)), "brand", pol)
    if rng.random() < 0.15:
        _social_post(b, rng.choice(SOCIAL_BRAND[NEG]).format(p=rng.choice(PRODUCTS)), "brand", NEG)
    if rng.random() < 0.25:
        _social_post(b, rng.choice(SOCIAL_FRUIT), "fruit", POS)


def _social_post(b: _SlotBuilder, text: str, about: str, polarity: str) -> None:
    rng = b.rng
    at = b.at()
    user = rng.choice(SOCIAL_USERS)
    post = b.add(
        SOCIAL,
        _PREFIX[SOCIAL],
        at,
        title="",
        text=text,
        author=user,
        about=about,
        polarity=polarity,
        reposts=int(rng.expovariate(1 / 4)),
    )
    if about == "brand" and rng.random() < 0.12 and at.minute < 55:
        later = at + timedelta(minutes=rng.randint(1, 59 - at.minute))
        b.add(
            SOCIAL,
            _PREFIX[SOCIAL],
            later,
            title="",
            text=_repost_text(text, rng),
            author=rng.choice([u for u in SOCIAL_USERS if u != user]),
            about=about,
            polarity=polarity,
            copy_of=post.path,
        )


def _forum(b: _SlotBuilder) -> None:
    rng = b.rng
    if rng.random() < 0.5:
        pol = POS if rng.random() < 0.55 else NEU
        title, text = rng.choice(FORUM_BRAND[pol])
        b.add(
            FORUM,
            _PREFIX[FORUM],
            b.at(),
            title=title.format(p=rng.choice(PRODUCTS)),
            text=text,
            author=rng.choice(FORUM_USERS),
            about="brand",
            polarity=pol,
        )
    if rng.random() < 0.08:
        title, text = rng.choice(FORUM_BRAND[NEG])
        b.add(
            FORUM,
            _PREFIX[FORUM],
            b.at(),
            title=title.format(p=rng.choice(PRODUCTS)),
            text=text,
            author=rng.choice(FORUM_USERS),
            about="brand",
            polarity=NEG,
        )
    extras = ((0.03, FORUM_ALIAS, "brand", POS), (0.04, FORUM_FRUIT, "fruit", NEU), (0.9, FORUM_OTHER, "other", NEU))
    for chance, pool, about, pol in extras:
        if rng.random() < chance:
            title, text = rng.choice(pool)
            b.add(
                FORUM,
                _PREFIX[FORUM],
                b.at(),
                title=title.format(p=rng.choice(PRODUCTS)),
                text=text,
                author=rng.choice(FORUM_USERS),
                about=about,
                polarity=pol,
            )


def _news(b: _SlotBuilder) -> None:
    rng = b.rng
    if rng.random() < 0.12:
        title, text, pol = rng.choice(NEWS_BRAND)
        title = title.format(p=rng.choice(PRODUCTS))
        at = b.at()
        media = rng.choice(NEWS_MEDIA)
        post = b.add(NEWS, _PREFIX[NEWS], at, title=title, text=text, author=media, about="brand", polarity=pol)
        if rng.random() < 0.35 and at.minute < 50:
            b.add(
                NEWS,
                _PREFIX[NEWS],
                at + timedelta(minutes=rng.randint(2, 59 - at.minute)),
                title=title,
                text=text,
                author=rng.choice([m for m in NEWS_MEDIA if m != media]) + "（转载）",
                about="brand",
                polarity=pol,
                copy_of=post.path,
            )
    if rng.random() < 0.06:
        title, text, pol = rng.choice(NEWS_FRUIT)
        b.add(
            NEWS,
            _PREFIX[NEWS],
            b.at(),
            title=title,
            text=text,
            author=rng.choice(NEWS_MEDIA),
            about="fruit",
            polarity=pol,
        )


def _rss(b: _SlotBuilder) -> None:
    rng = b.rng
    title = rng.choice(RSS_OTHER)
    b.add(
        RSS,
        _PREFIX[RSS],
        b.at(),
        title=title,
        text=f"{title}。详细报道请见正文。",
        author=rng.choice(RSS_MEDIA),
        about="other",
        polarity=NEU,
    )
    for chance, pool, about in ((0.02, RSS_BRAND, "brand"), (0.02, RSS_FRUIT, "fruit")):
        if rng.random() < chance:
            title, text, pol = rng.choice(pool)
            b.add(
                RSS,
                _PREFIX[RSS],
                b.at(),
                title=title,
                text=text,
                author=rng.choice(RSS_MEDIA),
                about=about,
                polarity=pol,
            )


@lru_cache(maxsize=2048)
def background_slot(slot: int) -> tuple[Post, ...]:
    """The posts of one clock hour (``slot`` = hours since the epoch), whatever the current time."""
    builder = _SlotBuilder(slot)
    for part in (_social, _forum, _news, _rss):
        part(builder)
    return tuple(builder.posts)


def background_posts(now: datetime) -> list[Post]:
    """Every background post in the 7 days up to ``now``."""
    first = int((now - WINDOW).timestamp()) // 3600
    last = int(now.timestamp()) // 3600
    return [p for slot in range(first, last + 1) for p in background_slot(slot) if now - WINDOW < p.posted_at <= now]


# --- crisis ---------------------------------------------------------------------------------------


def _unique_complaint(rng: random.Random, seen: set[str], first_with: str | None) -> str:
    while True:
        text = (
            f"{rng.choice(CRISIS_CITIES)}网友：蜜橙{rng.choice(('充电宝', '20000mAh充电宝', '磁吸充电宝'))}"
            f"{rng.choice(CRISIS_PROBLEMS)}，{first_with or rng.choice(CRISIS_TAILS)}"
        )
        first_with = None
        if normalise_content(text) not in seen:
            seen.add(normalise_content(text))
            return text


def _crisis_post(
    source: str,
    seg: CrisisSegment,
    phase: int,
    k: int,
    at: datetime,
    rng: random.Random,
    seen: set[str],
    first_with: str | None = None,
) -> Post:
    pid = _post_id(at, k)
    prefix = _PREFIX[source]
    path = f"{prefix}c{seg.crisis}-{pid}{'' if source == SOCIAL else '.html'}"
    common: dict[str, Any] = {
        "id": pid,
        "path": path,
        "home": source,
        "posted_at": at,
        "about": "brand",
        "polarity": NEG,
        "crisis": True,
    }
    if source == SOCIAL:
        return Post(
            title="",
            text=_unique_complaint(rng, seen, first_with),
            author=rng.choice(SOCIAL_USERS),
            reposts=rng.randint(5, 500),
            **common,
        )
    if source == FORUM:
        return Post(
            title=f"{rng.choice(CRISIS_FORUM_TITLES)}（{k % 1000}楼主）",
            text=_unique_complaint(rng, seen, first_with),
            author=rng.choice(FORUM_USERS),
            **common,
        )
    if source == NEWS:
        title, text = CRISIS_NEWS[(k + phase) % len(CRISIS_NEWS)]
        return Post(title=f"{title}（{rng.choice(CRISIS_CITIES)}）", text=text, author=rng.choice(NEWS_MEDIA), **common)
    if source == RSS:
        title, text, media = CRISIS_NATIONAL[k % len(CRISIS_NATIONAL)]
        return Post(title=title, text=text, author=media, **common)
    title, text = CRISIS_HOT[k % len(CRISIS_HOT)]
    return Post(title=title, text=text, author="热搜榜", heat=5_000_000 - k * 100_000, **common)


def _backlog(seg: CrisisSegment, phase: int) -> list[Post]:
    rng = random.Random(f"jingshao-demo-crisis-{seg.crisis}-{phase}")
    seen: set[str] = set()
    sources = [s for s, n in CRISIS_BACKLOG[phase].items() for _ in range(n)]
    rng.shuffle(sources)
    step = timedelta(minutes=48) / len(sources)
    posts: list[Post] = []
    for i, source in enumerate(sources):
        at = floor_minute(seg.start - timedelta(minutes=50) + step * i)
        first = "已经向12315投诉了" if i == 0 else None
        posts.append(_crisis_post(source, seg, phase, 1000 + phase * 100 + i, at, rng, seen, first))
    socials = [p for p in posts if p.home == SOCIAL]
    for j in range(CRISIS_REPOSTS[phase]):
        original = socials[j % len(socials)]
        at = min(original.posted_at + timedelta(minutes=1 + j), seg.start - timedelta(minutes=1))
        k = 1000 + phase * 100 + len(sources) + j
        pid = _post_id(at, k)
        posts.append(
            replace(
                original,
                id=pid,
                path=f"{_PREFIX[SOCIAL]}c{seg.crisis}-{pid}",
                posted_at=at,
                text=_repost_text(original.text, rng),
                author=rng.choice(SOCIAL_USERS),
                copy_of=original.path,
                reposts=0,
            )
        )
    return posts


def _flow(seg: CrisisSegment, now: datetime) -> list[Post]:
    end = min(seg.end or now, now)
    step = timedelta(hours=1) / CRISIS_RATE[seg.phase]
    rng = random.Random(f"jingshao-demo-crisis-flow-{seg.crisis}-{seg.phase}-{seg.start.isoformat()}")
    seen: set[str] = set()
    posts = []
    j = 1
    while seg.start + step * j <= end:
        at = floor_minute(seg.start + step * j)
        source = FORUM if j % 4 == 0 else SOCIAL
        posts.append(_crisis_post(source, seg, seg.phase, 5000 + seg.phase * 100 + j % 100, at, rng, seen))
        j += 1
    return posts


def crisis_posts(timeline: Iterable[CrisisSegment], now: datetime) -> list[Post]:
    """Posts of the crisis timeline that exist at ``now``."""
    posts: list[Post] = []
    for seg in timeline:
        if seg.start > now:
            continue
        for phase in seg.backlog:
            posts.extend(_backlog(seg, phase))
        posts.extend(_flow(seg, now))
    return [p for p in posts if now - WINDOW < p.posted_at <= now]


def default_timeline(phase: int, now: datetime) -> tuple[CrisisSegment, ...]:
    """A crisis switched straight to ``phase`` at ``now`` (nothing for phase 0)."""
    if phase == 0:
        return ()
    return (CrisisSegment(1, phase, floor_minute(now), None, tuple(range(1, phase + 1))),)


# --- what each source shows ---------------------------------------------------------------------


def _newest(posts: Iterable[Post]) -> list[Post]:
    return sorted(posts, key=lambda p: (p.posted_at, p.id), reverse=True)


def _hot_background(now: datetime) -> list[Post]:
    slot = int(now.timestamp()) // 3600
    rng = random.Random(f"jingshao-demo-hot-{slot}")
    topics = rng.sample(HOT_OTHER, HOT_SIZE)
    posts = []
    for i, title in enumerate(topics):
        at = floor_minute(now - timedelta(minutes=rng.randint(5, 360)))
        pid = _post_id(_slot_start(slot), 9000 + i)
        posts.append(
            Post(
                id=pid,
                path=f"{_PREFIX[HOT]}{pid}",
                home=HOT,
                title=title,
                text=f"{title} 相关讨论持续升温",
                posted_at=at,
                author="热搜榜",
                about="other",
                polarity=NEU,
                heat=3_000_000 - i * 120_000,
            )
        )
    return posts


@dataclass(frozen=True)
class Snapshot:
    """What every source shows at one instant (searches unfiltered: the search applies the keyword)."""

    now: datetime
    by_source: dict[str, list[Post]]

    def search(self, source: str, keyword: str) -> list[Post]:
        kw = keyword.strip().lower()
        if not kw:
            return []
        return [p for p in self.by_source[source] if kw in (p.title + " " + p.text).lower()]

    def find(self, path: str) -> Post | None:
        for posts in self.by_source.values():
            for post in posts:
                if post.path == path:
                    return post
        return None


def snapshot(now: datetime, timeline: Sequence[CrisisSegment] = ()) -> Snapshot:
    posts = background_posts(now) + crisis_posts(timeline, now)
    by_source: dict[str, list[Post]] = {key: [] for key in SOURCES}
    for post in posts:
        for source in post.sources:
            by_source[source].append(post)
    by_source[RSS] = _newest(by_source[RSS])[:RSS_LIMIT]
    by_source[ATOM] = _newest(by_source[ATOM])[:ATOM_LIMIT]
    for key in (NEWS, FORUM, SOCIAL):
        by_source[key] = _newest(by_source[key])
    by_source[HOT] = sorted(by_source[HOT] + _hot_background(now), key=lambda p: -p.heat)
    return Snapshot(now, by_source)


#: Which appearance of a post counts as the original when it shows up in several sources.
PRECEDENCE = (RSS, FORUM, NEWS, SOCIAL, HOT, ATOM)


def expected_mentions(
    phase: int,
    now: datetime,
    *,
    base_url: str = "",
    timeline: Sequence[CrisisSegment] | None = None,
    keywords: Sequence[str] | None = None,
) -> list[DemoMention]:
    """Ground truth at ``now``: every brand-or-fruit item a crawl of :func:`demo_mention_sources` sees.

    ``timeline`` is the server's crisis history (``DemoServer.crisis.timeline()``); without it, a crisis
    switched straight to ``phase`` at ``now``. Search sources are searched with ``keywords`` (default: the
    brand's keywords). Newest first. Unique items are those with ``duplicate_of is None``.
    """
    segments = default_timeline(phase, now) if timeline is None else tuple(timeline)
    snap = snapshot(now, segments)
    words = list(keywords) if keywords is not None else list(DEMO_BRAND["keywords"])
    seen: dict[str, list[str]] = {}
    for source in PRECEDENCE:
        visible: dict[str, Post] = {}
        if source in (NEWS, FORUM, SOCIAL):
            for word in words:
                visible.update((p.path, p) for p in snap.search(source, word))
        else:
            visible = {p.path: p for p in snap.by_source[source] if _is_candidate(p)}
        for post in visible.values():
            seen.setdefault(post.path, []).append(source)
    posts = {p.path: p for posts in snap.by_source.values() for p in posts}
    mentions = []
    for path, sources in seen.items():
        post = posts[path]
        for i, source in enumerate(sources):
            original = post.copy_of if post.copy_of in seen else None
            duplicate_of = base_url + path if i else (base_url + original if original else None)
            mentions.append(_mention(post, source, base_url, duplicate_of))
    return sorted(mentions, key=lambda m: (m.posted_at, m.url, PRECEDENCE.index(_key(m.source))), reverse=True)


def _is_candidate(post: Post) -> bool:
    return post.about in ("brand", "fruit")


def _key(source_name: str) -> str:
    return next(k for k, (name, _) in SOURCES.items() if name == source_name)


def _mention(post: Post, source: str, base_url: str, duplicate_of: str | None) -> DemoMention:
    name, authority = SOURCES[source]
    return DemoMention(
        url=base_url + post.path,
        source=name,
        title=post.title,
        text=post.text,
        posted_at=post.posted_at,
        author=post.author,
        is_about_brand=post.about == "brand",
        polarity=post.polarity,
        authority=authority,
        duplicate_of=duplicate_of,
        crisis=post.crisis,
        reposts=post.reposts,
    )


def unique_brand_negatives(
    mentions: Iterable[DemoMention], now: datetime, window: timedelta = timedelta(hours=1)
) -> list[DemoMention]:
    """Unique negative brand mentions posted in ``(now - window, now]``: what crisis rules count."""
    return [
        m
        for m in mentions
        if m.is_about_brand and m.polarity == NEG and m.duplicate_of is None and now - window < m.posted_at <= now
    ]


def has_crisis_word(text: str) -> bool:
    return any(w in text for w in CRISIS_WORDS)
