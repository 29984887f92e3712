"""What the demo shop sells, in every shop state, and what a correct extractor should find.

This module is pure data: :mod:`jingshao.demo.pages` renders it and :mod:`jingshao.demo.server`
serves it. Tests, the benchmark and ``jingshao demo`` use :func:`demo_products` to configure a crawl
and :func:`expected` to check what was stored.

Shop states are ``0 .. STATE_COUNT - 1``. :meth:`DemoServer.advance` cycles (the state after the
last one is 0 again); :meth:`DemoServer.set_state` and :func:`expected` reject anything out of range.

Between state 0 and state 1: the iPad Air drops 10.4 %, the nuts drop 23 %, the JD iPhone drops, the
FreeBuds come back in stock, the Sony headphones sell out, promos change on the iPad, the nuts, the
JD iPhone and the GBK Li-Ning page (满300减40 -> 满299减50). The Redmi K70 and the removed camera are
unchanged. State 2 changes again (the Redmi finally moves, the Sony is back, the shoes get cheaper).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

STATE_COUNT = 3
CURRENCY = "CNY"

#: Disallowed by ``/robots.txt``; a polite crawler never fetches it. Not part of :func:`demo_products`.
PRIVATE_URL_PATH = "/private/item.html"
#: Answers 503 for the first :data:`FLAKY_FAILURES` GETs (per server instance), then the bench page 1.
FLAKY_URL_PATH = "/flaky/1.html"
FLAKY_FAILURES = 2
#: Number of generated benchmark pages: ``/bench/product/<n>.html`` for ``0 <= n < BENCH_PAGE_COUNT``.
BENCH_PAGE_COUNT = 100_000
#: Upper bound for ``?delay=`` on slow pages, so a typo cannot hang a test run.
MAX_SLOW_DELAY = 30.0


@dataclass(frozen=True)
class DemoProduct:
    """One product a user would put in ``jingshao.toml``."""

    id: str
    competitor: str
    name: str
    url: str
    render: bool = False
    selectors: dict[str, str] | None = None
    #: How to crawl the product's reviews (see :func:`jingshao.demo.reviews.review_source`), or None.
    reviews: dict | None = None


@dataclass(frozen=True)
class ExpectedProduct:
    """What a correct crawl of a product page sees in a given shop state."""

    title: str
    price: Decimal | None
    original_price: Decimal | None
    currency: str = CURRENCY
    in_stock: bool = True
    promo_contains: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ItemState:
    """Price, stock and promo copy of one item in one shop state."""

    price: Decimal | None
    original_price: Decimal | None
    in_stock: bool
    promos: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendation:
    """A product in a 猜你喜欢 / 看了又看 block: its price must never be taken for the page's price."""

    sku: str
    name: str
    price: Decimal
    image: int


@dataclass(frozen=True)
class ShopItem:
    """A catalog entry with everything a page needs.

    ``kind`` selects the page template in :mod:`jingshao.demo.pages`: ``jsonld`` (schema.org Product),
    ``jd`` (price filled by JavaScript), ``gbk`` (Tmall-like, GBK bytes), ``recommend`` (visible
    markup only, surrounded by other prices) or ``removed`` (该商品已下架, no price anywhere).
    """

    id: str
    sku: str
    kind: str
    competitor: str
    name: str
    path: str
    brand: str
    category: tuple[str, ...]
    states: tuple[ItemState, ...]
    options: tuple[tuple[str, tuple[str, ...]], ...] = ()
    specs: tuple[tuple[str, str], ...] = ()
    images: tuple[int, ...] = (0, 1, 2, 3)
    render: bool = False
    selectors: dict[str, str] | None = None
    recommendations: tuple[Recommendation, ...] = ()

    def state(self, n: int) -> ItemState:
        return self.states[check_state(n)]


def check_state(n: int) -> int:
    """Return ``n`` if it is a valid shop state, else raise ``ValueError``."""
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < STATE_COUNT:
        raise ValueError(f"shop state must be an integer in 0..{STATE_COUNT - 1}, got {n!r}")
    return n


def _d(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _s(price: str | None, original: str | None, in_stock: bool = True, *promos: str) -> ItemState:
    return ItemState(_d(price), _d(original), in_stock, tuple(promos))


def _rec(sku: str, name: str, price: str, image: int) -> Recommendation:
    return Recommendation(sku, name, Decimal(price), image)


YOUPIN = "优品数码旗舰店"
DIGITAL = ("首页", "数码", "手机通讯")

JD_SKU = "100012043978"
JD_RECOMMENDATIONS = (
    _rec("100066896338", "Apple iPhone 15 Plus (A3096) 256GB 蓝色 支持移动联通电信5G 双卡双待手机", "6999.00", 11),
    _rec("100049486743", "Apple AirPods Pro (第二代) 配MagSafe无线充电盒 主动降噪无线蓝牙耳机", "1399.00", 12),
    _rec("100038004389", "Apple 20W USB-C手机充电器插头 快速充电头", "99.00", 13),
    _rec("100066896410", "Apple iPhone 15 Pro Max (A3108) 256GB 原色钛金属 5G手机", "8999.00", 14),
    _rec("100050401004", "倍思 苹果15手机壳 iPhone15保护套 全包防摔 透明", "29.90", 15),
    _rec("100056093411", "绿联 MagSafe磁吸无线充电器 15W 适用苹果15/14/13", "139.00", 16),
)

SONGSHU_ALSO_VIEWED = (
    _rec("612345678001", "三只松鼠 夏威夷果 265g/袋 奶油味 坚果炒货", "29.90", 20),
    _rec("612345678002", "三只松鼠 碧根果 210g/袋 奶油味 长寿果", "25.90", 21),
    _rec("612345678003", "三只松鼠 坚果大礼包 1608g/9袋 年货送礼", "159.00", 22),
    _rec("612345678004", "三只松鼠 开心果 500g/袋 原色无漂白", "59.90", 23),
)
SONGSHU_GUESS_YOU_LIKE = (
    _rec("612345678011", "三只松鼠 手撕面包 1000g 整箱 早餐代餐", "19.90", 24),
    _rec("612345678012", "三只松鼠 每日坚果 1050g/42袋 混合果仁", "169.00", 25),
    _rec("612345678013", "三只松鼠 猪肉脯 210g 靖江风味 休闲零食", "9.90", 26),
    _rec("612345678014", "三只松鼠 芒果干 116g*3袋 果脯蜜饯", "39.90", 27),
    _rec("612345678015", "三只松鼠 零食大礼包 2.5kg 30袋 送女友", "199.00", 28),
    _rec("612345678016", "三只松鼠 巴旦木 210g/袋 奶油味 扁桃仁", "22.90", 29),
    _rec("612345678017", "良品铺子 每日坚果 750g/30袋 混合坚果", "119.00", 30),
    _rec("612345678018", "百草味 每日坚果 750g/30包 孕妇零食", "109.00", 31),
    _rec("612345678019", "三只松鼠 坚果礼盒 年货 企业团购 2.1kg", "399.00", 32),
    _rec("612345678020", "三只松鼠 蟹黄味瓜子仁 218g*2袋", "79.90", 33),
    _rec("612345678021", "三只松鼠 牛肉干 100g 五香味 内蒙古风味", "49.90", 34),
    _rec("612345678022", "三只松鼠 坚果炒货 核桃仁 500g 原味", "88.00", 35),
)

ITEMS: tuple[ShopItem, ...] = (
    ShopItem(
        id="youpin-10001",
        sku="10001",
        kind="jsonld",
        competitor=YOUPIN,
        name="Apple iPad Air 11英寸 M2芯片 2024年款 平板电脑 128GB WLAN版 深空灰色",
        path="/youpin/item/10001.html",
        brand="Apple",
        category=("首页", "数码", "平板电脑"),
        states=(
            _s("4799.00", "4999.00", True, "领券立减50元", "赠品: 原装保护壳"),
            _s("4299.00", "4999.00", True, "限时秒杀", "券后价¥4249"),
            _s("4399.00", "4999.00", True, "领券立减100元", "12期免息"),
        ),
        options=(("颜色", ("深空灰色", "星光色", "紫色", "蓝色")), ("版本", ("128GB WLAN版", "256GB WLAN版"))),
        specs=(
            ("品牌", "Apple"),
            ("型号", "MUWC3CH/A"),
            ("屏幕尺寸", "11英寸"),
            ("芯片", "M2"),
            ("存储容量", "128GB"),
            ("网络", "WLAN"),
        ),
        images=(0, 1, 2, 3),
    ),
    ShopItem(
        id="youpin-10002",
        sku="10002",
        kind="jsonld",
        competitor=YOUPIN,
        name="小米 Redmi K70 第二代骁龙8 澎湃OS 2K高光屏 120W快充 12GB+256GB 墨羽 5G手机",
        path="/youpin/item/10002.html",
        brand="小米",
        category=DIGITAL,
        states=(
            _s("2299.00", "2499.00", True, "赠品: 原装保护壳"),
            _s("2299.00", "2499.00", True, "赠品: 原装保护壳"),
            _s("1999.00", "2499.00", True, "限时秒杀", "以旧换新至高补贴300元"),
        ),
        options=(("颜色", ("墨羽", "晴雪", "浅茄紫", "竹月蓝")), ("版本", ("12GB+256GB", "16GB+512GB"))),
        specs=(
            ("品牌", "小米"),
            ("型号", "Redmi K70"),
            ("处理器", "第二代骁龙8"),
            ("屏幕", "6.67英寸 2K"),
            ("快充", "120W"),
            ("电池", "5000mAh"),
        ),
        images=(4, 5, 6, 7),
    ),
    ShopItem(
        id="youpin-10003",
        sku="10003",
        kind="jsonld",
        competitor=YOUPIN,
        name="华为 HUAWEI FreeBuds Pro 3 真无线蓝牙降噪耳机 星河蓝 有线充版",
        path="/youpin/item/10003.html",
        brand="华为",
        category=("首页", "数码", "耳机"),
        states=(
            _s("1499.00", None, False),
            _s("1299.00", None, True, "到货特惠", "领券立减200元"),
            _s("1299.00", None, True, "满1000减100"),
        ),
        options=(("颜色", ("星河蓝", "雅川青", "冰霜银")), ("版本", ("有线充版", "无线充版"))),
        specs=(("品牌", "华为"), ("型号", "FreeBuds Pro 3"), ("降噪", "主动降噪"), ("续航", "31小时")),
        images=(8, 9, 10),
    ),
    ShopItem(
        id="youpin-10004",
        sku="10004",
        kind="jsonld",
        competitor=YOUPIN,
        name="索尼（SONY）WH-1000XM5 头戴式无线降噪耳机 蓝牙5.2 黑色",
        path="/youpin/item/10004.html",
        brand="索尼",
        category=("首页", "数码", "耳机"),
        states=(
            _s("2499.00", "2999.00", True, "满2000减200"),
            _s("2499.00", "2999.00", False),
            _s("2299.00", "2999.00", True, "补货特惠", "领券立减200元"),
        ),
        options=(("颜色", ("黑色", "铂金银", "午夜蓝")),),
        specs=(("品牌", "索尼"), ("型号", "WH-1000XM5"), ("蓝牙", "5.2"), ("续航", "30小时")),
        images=(36, 37, 38),
    ),
    ShopItem(
        id="youpin-10005",
        sku="10005",
        kind="removed",
        competitor=YOUPIN,
        name="佳能（Canon）EOS R50 微单相机 18-45mm 标准变焦镜头套机 白色",
        path="/youpin/item/10005.html",
        brand="佳能",
        category=("首页", "数码", "相机"),
        states=(_s(None, None, False), _s(None, None, False), _s(None, None, False)),
        images=(39,),
    ),
    ShopItem(
        id=f"jd-{JD_SKU}",
        sku=JD_SKU,
        kind="jd",
        competitor="京东自营",
        name="Apple iPhone 15 (A3092) 128GB 黑色 支持移动联通电信5G 双卡双待手机",
        path=f"/jd/item/{JD_SKU}.html",
        brand="Apple",
        category=("手机通讯", "手机", "Apple"),
        states=(
            _s("5999.00", "6499.00", True, "PLUS会员专享", "以旧换新至高补贴800元"),
            _s("5699.00", "6499.00", True, "限时秒杀", "券后价¥5599"),
            _s("5499.00", "6499.00", True, "百亿补贴", "12期免息"),
        ),
        options=(("颜色", ("黑色", "蓝色", "绿色", "黄色", "粉色")), ("版本", ("128GB", "256GB", "512GB"))),
        specs=(("品牌", "Apple"), ("型号", "A3092"), ("屏幕", "6.1英寸"), ("芯片", "A16"), ("机身存储", "128GB")),
        images=(17, 18, 19),
        render=True,
        selectors={"price": f"span.price.J-p-{JD_SKU}", "original_price": f"del.J-op-{JD_SKU}"},
        recommendations=JD_RECOMMENDATIONS,
    ),
    ShopItem(
        id="tmall-660123456789",
        sku="660123456789",
        kind="gbk",
        competitor="李宁官方旗舰店",
        name="李宁 赤兔6 男子跑步鞋 轻量缓震 透气竞速训练运动鞋 ARMT015",
        path="/tmall/item/660123456789.htm",
        brand="李宁",
        category=("首页", "运动鞋", "跑步鞋"),
        states=(
            _s("459.00", "599.00", True, "满300减40"),
            _s("459.00", "599.00", True, "满299减50", "第2件半价"),
            _s("399.00", "599.00", True, "限时秒杀", "满299减30"),
        ),
        options=(
            ("颜色分类", ("标准白/荧光绿", "黑色/银色", "天蓝色")),
            ("尺码", ("39", "40", "41", "42", "43", "44")),
        ),
        specs=(("品牌", "LI-NING/李宁"), ("货号", "ARMT015"), ("鞋面材质", "网布"), ("适用场景", "竞速训练")),
        images=(40, 41, 42, 43),
    ),
    ShopItem(
        id="songshu-632145678901",
        sku="632145678901",
        kind="recommend",
        competitor="三只松鼠官方旗舰店",
        name="三只松鼠 每日坚果 750g/30袋 混合坚果仁 孕妇儿童休闲零食 年货礼盒",
        path="/songshu/item/632145678901.html",
        brand="三只松鼠",
        category=("首页", "休闲食品", "坚果炒货"),
        states=(
            _s("129.90", "169.00", True, "满299减30", "领券立减10元"),
            _s("99.90", "169.00", True, "限时秒杀", "券后价¥89.90"),
            _s("109.90", "169.00", True, "满299减30", "赠品: 开果器"),
        ),
        options=(("口味", ("混合坚果 750g/30袋", "混合坚果 1050g/42袋")),),
        specs=(("品牌", "三只松鼠"), ("净含量", "750g"), ("保质期", "180天"), ("产地", "安徽芜湖")),
        images=(44, 45, 46),
        recommendations=SONGSHU_ALSO_VIEWED + SONGSHU_GUESS_YOU_LIKE,
    ),
)

ITEMS_BY_ID: dict[str, ShopItem] = {item.id: item for item in ITEMS}
ITEMS_BY_PATH: dict[str, ShopItem] = {item.path: item for item in ITEMS}

#: Shown on ``/`` but disallowed by robots.txt; priced like an ordinary JSON-LD item.
PRIVATE_ITEM = ShopItem(
    id="youpin-private-preview",
    sku="19999",
    kind="jsonld",
    competitor=YOUPIN,
    name="【内部预览】Apple Vision Pro 256GB 国行版 未发布价格",
    path=PRIVATE_URL_PATH,
    brand="Apple",
    category=("首页", "数码", "内部预览"),
    states=(_s("29999.00", None, True),) * STATE_COUNT,
    images=(47,),
)


def demo_products(base_url: str) -> list[DemoProduct]:
    """The demo shop's catalog as products a user would configure (absolute URLs under ``base_url``)."""
    from jingshao.demo.reviews import review_source  # reviews build on this module's items

    root = base_url.rstrip("/")
    return [
        DemoProduct(
            id=item.id,
            competitor=item.competitor,
            name=item.name,
            url=root + item.path,
            render=item.render,
            selectors=dict(item.selectors) if item.selectors else None,
            reviews=review_source(item.id, root),
        )
        for item in ITEMS
    ]


def expected(product_id: str, state: int) -> ExpectedProduct:
    """What a correct extractor finds on ``product_id``'s page in shop state ``state``.

    The removed item (``youpin-10005``) has ``price=None``: a crawl must record a failed observation.
    """
    try:
        item = ITEMS_BY_ID[product_id]
    except KeyError:
        raise KeyError(f"unknown demo product {product_id!r}; known: {', '.join(ITEMS_BY_ID)}") from None
    st = item.state(state)
    return ExpectedProduct(
        title=item.name,
        price=st.price,
        original_price=st.original_price,
        in_stock=st.in_stock,
        promo_contains=list(st.promos),
    )


# --- generated benchmark pages -------------------------------------------------------------------

BENCH_BRANDS = ("小米", "华为", "荣耀", "OPPO", "vivo", "联想", "美的", "格力", "海尔", "李宁", "安踏", "良品铺子")
BENCH_SERIES = ("智享", "畅玩", "星耀", "青春", "旗舰", "轻薄", "静音", "极速")
BENCH_CATEGORIES = (
    ("蓝牙耳机", "真无线 主动降噪 长续航"),
    ("移动电源", "20000mAh 22.5W快充 双向快充"),
    ("空气炸锅", "5.5L大容量 可视窗口 家用多功能"),
    ("电热水壶", "1.7L 304不锈钢 自动断电"),
    ("跑步鞋", "男款 轻量缓震 透气网面"),
    ("运动T恤", "速干 冰丝 短袖 男女同款"),
    ("机械键盘", "87键 热插拔 RGB背光 茶轴"),
    ("智能手表", "血氧心率监测 NFC 运动模式"),
    ("每日坚果", "750g/30袋 混合坚果 休闲零食"),
    ("扫地机器人", "扫拖一体 自动集尘 激光导航"),
)


def _check_bench_n(n: int) -> int:
    if not 0 <= n < BENCH_PAGE_COUNT:
        raise ValueError(f"bench page number must be in 0..{BENCH_PAGE_COUNT - 1}, got {n}")
    return n


def expected_bench_price(n: int) -> Decimal:
    """The price shown on ``/bench/product/<n>.html`` and ``/bench/render/<n>.html`` (any shop state)."""
    cents = 990 + (_check_bench_n(n) * 104_729) % 899_000
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def expected_bench_original_price(n: int) -> Decimal:
    """The 划线价 of bench page ``n``: 20 % above its price, rounded up to whole yuan."""
    price = expected_bench_price(n)
    return (price * Decimal("1.2")).quantize(Decimal(1), rounding=ROUND_CEILING) + Decimal("0.00")


def bench_title(n: int) -> str:
    """The product title of bench page ``n``."""
    _check_bench_n(n)
    brand = BENCH_BRANDS[n % len(BENCH_BRANDS)]
    series = BENCH_SERIES[(n // len(BENCH_BRANDS)) % len(BENCH_SERIES)]
    category, spec = BENCH_CATEGORIES[(n * 7) % len(BENCH_CATEGORIES)]
    return f"{brand} {series}{n % 90 + 10} {category} {spec} 型号B{n:05d}"


def expected_bench(n: int) -> ExpectedProduct:
    """Everything a correct extractor finds on bench page ``n`` (also the slow and flaky variants)."""
    return ExpectedProduct(
        title=bench_title(n),
        price=expected_bench_price(n),
        original_price=expected_bench_original_price(n),
        in_stock=True,
        promo_contains=[bench_promo(n)],
    )


def bench_promo(n: int) -> str:
    """The promo copy of bench page ``n``."""
    threshold = (n % 9 + 1) * 100
    return f"满{threshold}减{threshold // 10}"


def bench_product_path(n: int) -> str:
    return f"/bench/product/{_check_bench_n(n)}.html"


def bench_render_path(n: int) -> str:
    return f"/bench/render/{_check_bench_n(n)}.html"


def bench_product_urls(base_url: str, n: int, start: int = 0) -> list[str]:
    """``n`` plain-HTTP benchmark page URLs (JSON-LD priced), starting at page ``start``."""
    root = base_url.rstrip("/")
    return [root + bench_product_path(i) for i in range(start, start + n)]


def bench_render_urls(base_url: str, n: int, start: int = 0) -> list[str]:
    """``n`` benchmark page URLs whose price is filled by JavaScript and that load images and a font."""
    root = base_url.rstrip("/")
    return [root + bench_render_path(i) for i in range(start, start + n)]


def slow_product_url(base_url: str, n: int, delay: float = 0.3) -> str:
    """A JSON-LD page (bench page ``n``, see :func:`expected_bench`) answered after ``delay`` seconds."""
    return f"{base_url.rstrip('/')}/slow/product/{_check_bench_n(n)}.html?delay={delay:g}"


def flaky_url(base_url: str, n: int = 1) -> str:
    """Bench page ``n`` behind 503s: the first :data:`FLAKY_FAILURES` GETs of it fail."""
    return f"{base_url.rstrip('/')}/flaky/{_check_bench_n(n)}.html"
