"""HTML of the demo shop: pure functions from catalog data (and a shop state) to page text.

Every product page has what real Chinese shop pages have: top bar, header with search, navigation,
breadcrumb, gallery, ``h1`` title, price area, 促销 block, SKU selector, buy buttons, 商品详情 and a
footer. Each template mimics one family of real markup (see :class:`jingshao.demo.catalog.ShopItem`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from html import escape

from jingshao.core.formatting import format_money
from jingshao.demo import catalog
from jingshao.demo.catalog import ITEMS, PRIVATE_ITEM, ItemState, Recommendation, ShopItem


@dataclass(frozen=True)
class Site:
    """The chrome (name, navigation) of one competitor's shop."""

    name: str
    logo: str
    nav: tuple[str, ...]


_YOUPIN_SITE = Site("优品数码旗舰店", "优品数码", ("首页", "手机", "平板", "耳机", "相机", "智能穿戴", "以旧换新"))
SITES: dict[str, Site] = {
    "jsonld": _YOUPIN_SITE,
    "removed": _YOUPIN_SITE,
    "jd": Site("京东", "京东 JD.COM", ("秒杀", "优惠券", "PLUS会员", "品牌闪购", "拍卖", "京东家电", "京东超市")),
    "gbk": Site("李宁官方旗舰店", "天猫 TMALL", ("首页", "跑步", "篮球", "运动生活", "新品首发", "会员专区")),
    "recommend": Site("三只松鼠官方旗舰店", "三只松鼠", ("首页", "坚果炒货", "肉食卤味", "果干蜜饯", "糕点", "礼盒")),
    "bench": Site("竞哨测试商城", "竞哨商城", ("首页", "数码", "家电", "运动", "食品", "服饰", "家居", "会员")),
}

SERVICE_PROMISE = "正品保障 · 七天无理由退货 · 顺丰包邮 · 闪电退款 · 价格保护"
DETAIL_PARAGRAPHS = (
    "本店所售商品均为品牌官方授权正品，支持全国联保，可凭订单与发票享受官方售后服务。",
    "下单后48小时内发货，江浙沪次日达，偏远地区以物流实际时效为准。收货时请当面验货，如有破损请拒收。",
    "由于批次不同，商品包装可能与图片略有差异，请以收到的实物为准。页面图片仅供参考。",
    "如需开具增值税专用发票，请联系在线客服并提供开票信息，我们将在确认收货后15个工作日内寄出。",
)


def money(value: Decimal) -> str:
    """A price as the demo shop's pages print it (``459.00``)."""
    return format_money(value, grouping=False)


def json_for_script(data: object) -> str:
    """JSON safe to embed in a ``<script>`` element."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


# --- shared chrome -------------------------------------------------------------------------------


def layout(title: str, body: str, site: Site, *, charset: str = "utf-8", head: str = "") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="{charset}">\n'
        f"<title>{escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="stylesheet" href="/static/css/shop.css">\n'
        f"{head}</head>\n<body>\n{header(site)}\n{body}\n{footer(site)}\n</body>\n</html>\n"
    )


def header(site: Site) -> str:
    nav = "".join(f'<a href="/">{escape(label)}</a>' for label in site.nav)
    return (
        '<div class="topbar"><span>你好，请登录</span> <a href="/">免费注册</a> | <a href="/">我的订单</a>'
        ' | <a href="/">我的购物车</a> | <a href="/">客户服务</a> | <a href="/">网站导航</a></div>\n'
        f'<div class="header"><a class="logo" href="/">{escape(site.logo)}</a>'
        '<form class="search" action="/" method="get"><input name="q" placeholder="搜索 商品/品牌/店铺">'
        f'<button type="submit">搜索</button></form><div class="shop-name">{escape(site.name)}</div></div>\n'
        f'<div class="nav">{nav}</div>'
    )


def footer(site: Site) -> str:
    return (
        '<div class="footer"><ul class="footer-service"><li>品类齐全，轻松购物</li><li>多仓直发，极速配送</li>'
        "<li>正品行货，精致服务</li><li>天天低价，畅选无忧</li></ul>"
        '<p><a href="/">关于我们</a> | <a href="/">联系客服</a> | <a href="/">帮助中心</a> | '
        '<a href="/">隐私政策</a> | <a href="/">营业执照</a></p>'
        f"<p>Copyright © 2024 {escape(site.name)} 版权所有 沪ICP备20240001号-1</p></div>"
    )


def breadcrumb(parts: tuple[str, ...], name: str) -> str:
    links = "".join(f'<a href="/">{escape(p)}</a>' for p in parts)
    return f'<div class="breadcrumb">{links}<span>{escape(name[:24])}</span></div>'


def gallery(images: tuple[int, ...], name: str) -> str:
    main, thumbs = images[0], images
    thumb_html = "".join(
        f'<img src="/static/img/{k}.png" alt="{escape(name)} 图{i + 1}">' for i, k in enumerate(thumbs)
    )
    return (
        f'<div class="gallery"><img class="main-img" src="/static/img/{main}.png" alt="{escape(name)}">'
        f'<div class="thumbs">{thumb_html}</div></div>'
    )


def sku_selector(options: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    groups = []
    for label, values in options:
        choices = "".join(
            f'<a class="sku{" selected" if i == 0 else ""}" href="javascript:;">{escape(v)}</a>'
            for i, v in enumerate(values)
        )
        groups.append(f"<dl><dt>{escape(label)}</dt><dd>{choices}</dd></dl>")
    return f'<div class="sku-selector">{"".join(groups)}<dl><dt>数量</dt><dd><input value="1" size="3"></dd></dl></div>'


def promo_block(promos: tuple[str, ...]) -> str:
    if not promos:
        return ""
    tags = "".join(f'<li class="promo-tag">{escape(p)}</li>' for p in promos)
    return f'<div class="promo-block"><span class="promo-title">促销</span><ul>{tags}</ul></div>'


def buy_buttons(in_stock: bool) -> str:
    if in_stock:
        return (
            '<div class="stock">配送至 上海 浦东新区 <b class="stock-status">有货</b> 今天23:00前下单，明天送达</div>'
            '<div class="buy-buttons"><a class="btn-buy" href="javascript:;">立即购买</a>'
            '<a class="btn-cart" href="javascript:;">加入购物车</a></div>'
        )
    return (
        '<div class="stock">配送至 上海 浦东新区 <b class="stock-status">无货</b> 此商品暂时售完</div>'
        '<div class="buy-buttons"><a class="btn-notify" href="javascript:;">到货通知</a></div>'
    )


def detail_section(item: ShopItem) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in item.specs)
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in DETAIL_PARAGRAPHS)
    images = "".join(f'<img src="/static/img/{k + 100}.png" alt="详情图">' for k in item.images)
    return (
        '<div class="detail"><ul class="detail-tabs"><li class="current">商品详情</li><li>规格参数</li>'
        f'<li>售后保障</li><li>商品评价</li></ul><h2>商品详情</h2><table class="specs">{rows}</table>'
        f"{paragraphs}{images}</div>"
    )


def recommendation_list(title: str, css: str, recs: tuple[Recommendation, ...], yen: str = "¥") -> str:
    items = "".join(
        f'<li><a href="/"><img src="/static/img/{r.image}.png" alt=""><p class="rec-name">{escape(r.name)}</p>'
        f'<p class="rec-price">{yen}{money(r.price)}</p></a></li>'
        for r in recs
    )
    return f'<div class="{css}"><h3>{escape(title)}</h3><ul>{items}</ul></div>'


# --- product page templates ----------------------------------------------------------------------


def product_jsonld(item: ShopItem, st: ItemState) -> str:
    offer: dict[str, object] = {
        "@type": "Offer",
        "url": item.path,
        "priceCurrency": catalog.CURRENCY,
        "price": money(st.price) if st.price is not None else None,
        "availability": "https://schema.org/" + ("InStock" if st.in_stock else "OutOfStock"),
        "seller": {"@type": "Organization", "name": item.competitor},
    }
    if st.original_price is not None:
        offer["priceSpecification"] = {
            "@type": "UnitPriceSpecification",
            "priceType": "https://schema.org/ListPrice",
            "price": money(st.original_price),
            "priceCurrency": catalog.CURRENCY,
        }
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": item.name,
        "sku": item.sku,
        "brand": {"@type": "Brand", "name": item.brand},
        "image": [f"/static/img/{k}.png" for k in item.images],
        "description": item.name,
        "offers": offer,
    }
    return f'<script type="application/ld+json">{json_for_script(data)}</script>\n'


def price_area(st: ItemState, yen: str = "¥") -> str:
    assert st.price is not None
    original = (
        f'<span class="price-label">原价</span><del class="price-original">{yen}{money(st.original_price)}</del>'
        if st.original_price is not None
        else ""
    )
    return (
        f'<div class="price-area"><span class="price-label">促销价</span>'
        f'<span class="price-current"><em>{yen}</em>{money(st.price)}</span>{original}</div>'
    )


def jsonld_page(item: ShopItem, state: int) -> str:
    st = item.state(state)
    info = (
        f'<div class="product-info"><h1 class="product-title">{escape(item.name)}</h1>'
        f'<p class="subtitle">{escape(item.brand)}官方授权 · 全国联保 · 顺丰发货</p>'
        f"{price_area(st)}{promo_block(st.promos)}{sku_selector(item.options)}{buy_buttons(st.in_stock)}"
        f'<div class="service">服务承诺：{SERVICE_PROMISE}</div></div>'
    )
    body = (
        f"{breadcrumb(item.category, item.name)}"
        f'<div class="product-main">{gallery(item.images, item.name)}{info}</div>{detail_section(item)}'
    )
    title = f"{item.name}【行情 报价 价格】-{item.competitor}"
    return layout(title, body, SITES["jsonld"], head=product_jsonld(item, st))


def removed_page(item: ShopItem, state: int) -> str:
    """该商品已下架: no price anywhere on the page, no buy button, no structured data."""
    item.state(state)
    body = (
        f"{breadcrumb(item.category, item.name)}"
        f'<div class="off-shelf"><img src="/static/img/{item.images[0]}.png" alt="">'
        f'<h1 class="off-shelf-title">{escape(item.name)}</h1>'
        '<p class="off-shelf-tip">很抱歉，该商品已下架</p>'
        '<p>您可以 <a href="/">返回首页</a> 或 <a href="/">查看店铺其他商品</a></p>'
        '<div class="buy-buttons"><a class="btn-disabled" href="javascript:;">商品已下架</a></div></div>'
    )
    return layout(f"{item.name}-{item.competitor}", body, SITES["removed"])


JD_SCRIPT = """\
(function () {
  var skus = %s;
  var url = "/jd/api/price?skuIds=" + skus.map(function (s) { return "J_" + s; }).join(",");
  fetch(url).then(function (r) { return r.json(); }).then(function (list) {
    list.forEach(function (x) {
      var sku = x.id.slice(2);
      document.querySelectorAll(".J-p-" + sku).forEach(function (el) { el.textContent = x.p; });
      document.querySelectorAll(".J-op-" + sku).forEach(function (el) {
        if (x.op && x.op !== x.p) { el.textContent = "\\uffe5" + x.op; }
      });
    });
  });
})();
"""


def jd_page(item: ShopItem, state: int) -> str:
    """JD-shaped: the price is not in the HTML, the inline script fetches ``/jd/api/price``."""
    st = item.state(state)
    sku = item.sku
    promos = "".join(f'<div class="prom-item"><em class="hl_red_bg">{escape(p)}</em></div>' for p in st.promos)
    guess = "".join(
        f'<li class="gl-item"><div class="p-img"><a href="/jd/item/{r.sku}.html"><img src="/static/img/{r.image}.png">'
        f'</a></div><div class="p-name"><a href="/jd/item/{r.sku}.html">{escape(r.name)}</a></div>'
        f'<div class="p-price"><strong><em>￥</em><i class="J-p-{r.sku}"></i></strong></div></li>'
        for r in item.recommendations
    )
    choose = "".join(
        f'<div id="choose-attr-{i + 1}" class="li p-choose"><div class="dt">选择{escape(label)}</div><div class="dd">'
        + "".join(
            f'<div class="item{" selected" if j == 0 else ""}"><a href="#">{escape(v)}</a></div>'
            for j, v in enumerate(values)
        )
        + "</div></div>"
        for i, (label, values) in enumerate(item.options)
    )
    buttons = (
        '<a href="javascript:;" id="InitCartUrl" class="btn-special1 btn-lg">加入购物车</a>'
        '<a href="javascript:;" id="InitTradeUrl" class="btn-special2 btn-lg">立即购买</a>'
        if st.in_stock
        else '<a href="javascript:;" class="btn-special3 btn-lg">到货通知</a>'
    )
    info = (
        f'<div class="itemInfo-wrap"><h1 class="sku-name">{escape(item.name)}</h1>'
        '<div class="news"><div class="item hide">【官方正品】A16仿生芯片，灵动岛，4800万像素主摄</div></div>'
        '<div class="summary summary-first"><div class="summary-price-wrap"><div class="summary-price J-summary-price">'
        '<div class="dt">京 东 价</div><div class="dd"><span class="p-price"><span>￥</span>'
        f'<span class="price J-p-{sku}"></span></span> <del class="J-op-{sku}"></del>'
        '<a class="notice J-notify-sale" href="#">降价通知</a></div></div>'
        f'<div id="summary-promotion" class="summary-promotion"><div class="dt">促　　销</div>'
        f'<div class="dd J-prom-wrap">{promos}</div></div></div></div>'
        '<div id="summary-stock"><div class="dt">配 送 至</div><div class="dd">北京朝阳区三环以内 '
        f"<strong>{'有货' if st.in_stock else '无货'}</strong> 支持 99元免基础运费 | 京准达 | 211限时达</div></div>"
        f'<div id="choose-attrs">{choose}</div><div class="choose-btns">{buttons}</div>'
        '<div class="summary-service">由 京东 发货, 并提供售后服务. 京东物流 · 7天无理由退货</div></div>'
    )
    body = (
        f"{breadcrumb(item.category, item.name)}"
        f'<div class="product-intro product-main">{gallery(item.images, item.name)}{info}</div>'
        f'<div id="guess-you-like" class="recommend J-guess"><h3>猜你喜欢</h3><ul class="gl-warp">{guess}</ul></div>'
        f"{detail_section(item)}"
    )
    skus = [sku] + [r.sku for r in item.recommendations]
    page_config = {"product": {"skuid": int(sku), "name": item.name, "cat": [9987, 653, 655], "brand": 14026}}
    head = f"<script>var pageConfig = {json_for_script(page_config)};</script>\n"
    script = f"<script>\n{JD_SCRIPT % json.dumps(skus)}</script>"
    title = f"【{item.name.split(' (')[0]}】{item.name}【行情 报价 价格 评测】-京东"
    return layout(title, body + script, SITES["jd"], head=head)


def gbk_page(item: ShopItem, state: int) -> str:
    """Tmall-shaped, meant to be encoded as GBK (so it only uses characters GBK has: ￥, not ¥)."""
    st = item.state(state)
    assert st.price is not None and st.original_price is not None
    promos = "".join(f'<span class="tm-promo-tag">{escape(p)}</span>' for p in st.promos)
    info = (
        f'<div class="tb-property"><div class="tb-detail-hd"><h1 data-spm="1000983">{escape(item.name)}</h1>'
        '<p class="newp">李宁官方正品 赤兔系列 跑步训练新选择</p></div>'
        '<div class="tm-fcs-panel"><dl class="tm-price-panel"><dt class="tb-metatit">价格</dt>'
        f'<dd><del class="tm-price-original">￥{money(st.original_price)}</del></dd></dl>'
        '<dl class="tm-promo-panel tm-promo-cur"><dt class="tb-metatit">促销价</dt>'
        f'<dd><span class="tm-price">￥{money(st.price)}</span></dd></dl>'
        f'<dl class="tm-shopPromo-panel"><dt class="tb-metatit">店铺优惠</dt><dd>{promos}</dd></dl></div>'
        '<ul class="tm-ind-panel"><li>月销量 <span class="tm-count">2000+</span></li>'
        '<li>累计评价 <span class="tm-count">1.2万</span></li>'
        '<li>送天猫积分 <span class="tm-count">229</span></li></ul>'
        f"{sku_selector(item.options)}{buy_buttons(st.in_stock)}"
        '<div class="tb-serPromise">服务承诺：正品保证 · 极速退款 · 七天无理由退换</div></div>'
    )
    body = (
        f"{breadcrumb(item.category, item.name)}"
        f'<div id="detail" class="product-main">{gallery(item.images, item.name)}{info}</div>{detail_section(item)}'
    )
    head = '<meta http-equiv="Content-Type" content="text/html; charset=gbk">\n'
    page = layout(f"{item.name}-tmall.com天猫", body, SITES["gbk"], charset="gbk", head=head)
    return page.replace("©", "(C)")


def recommend_page(item: ShopItem, state: int) -> str:
    """Price in visible markup only, with a 看了又看 block before it and 猜你喜欢 after it."""
    st = item.state(state)
    assert st.price is not None
    also_viewed = item.recommendations[:4]
    guess = item.recommendations[4:]
    original = f'<del class="price-orig">¥{money(st.original_price)}</del>' if st.original_price else ""
    info = (
        f'<div class="product-info"><h1 class="product-title">{escape(item.name)}</h1>'
        '<p class="subtitle">坚果新鲜烘焙 · 每日一袋 营养均衡 · 独立小包装</p>'
        '<div class="price-box price-area"><span class="label">到手价</span>'
        f'<span class="price-now"><i>¥</i>{money(st.price)}</span>{original}'
        '<span class="sales">已售 10万+</span></div>'
        f"{promo_block(st.promos)}{sku_selector(item.options)}{buy_buttons(st.in_stock)}"
        f'<div class="service">服务承诺：{SERVICE_PROMISE}</div></div>'
    )
    body = (
        f"{breadcrumb(item.category, item.name)}"
        '<div class="page-wrap"><aside class="side">'
        f"{recommendation_list('看了又看', 'also-viewed', also_viewed)}</aside>"
        f'<div class="product-main">{gallery(item.images, item.name)}{info}</div></div>'
        f"{recommendation_list('猜你喜欢', 'recommend guess-you-like', guess)}{detail_section(item)}"
        f"{recommendation_list('为你推荐', 'recommend for-you', guess[::-1][:6])}"
    )
    head = f'<meta property="og:title" content="{escape(item.name)}">\n<meta property="og:type" content="product">\n'
    return layout(f"{item.name}-{item.competitor}", body, SITES["recommend"], head=head)


TEMPLATES = {
    "jsonld": jsonld_page,
    "removed": removed_page,
    "jd": jd_page,
    "gbk": gbk_page,
    "recommend": recommend_page,
}


@lru_cache(maxsize=256)
def product_page_bytes(path: str, state: int) -> bytes:
    """The encoded page at ``path`` in ``state`` (GBK for the ``gbk`` template, UTF-8 otherwise)."""
    item = PRIVATE_ITEM if path == PRIVATE_ITEM.path else catalog.ITEMS_BY_PATH[path]
    text = TEMPLATES[item.kind](item, state)
    return text.encode("gbk" if item.kind == "gbk" else "utf-8")


def index_page() -> str:
    cards = "".join(
        f'<li class="card"><a href="{item.path}"><img src="/static/img/{item.images[0]}.png" alt="">'
        f'<p class="card-name">{escape(item.name)}</p><p class="card-shop">{escape(item.competitor)}</p></a></li>'
        for item in (*ITEMS, PRIVATE_ITEM)
    )
    body = (
        '<div class="recommend"><h2>竞哨演示商城 · 全部商品</h2>'
        f'<ul class="cards">{cards}</ul></div>'
        '<div class="recommend"><h3>压测商品</h3><p><a href="/bench/product/0.html">压测商品 0</a> '
        '<a href="/bench/render/0.html">渲染压测商品 0</a></p></div>'
    )
    return layout("竞哨演示商城 - 首页", body, SITES["bench"])


ROBOTS_TXT = "User-agent: *\nDisallow: /private/\nAllow: /\n"


# --- benchmark pages -----------------------------------------------------------------------------

_BENCH_SPEC_ROWS = "".join(
    f"<tr><td>参数项{i:02d}</td><td>规格说明 {i} · 详见包装标识，以实物为准</td></tr>" for i in range(60)
)
_BENCH_DETAIL = (
    '<div class="detail"><ul class="detail-tabs"><li class="current">商品详情</li><li>规格参数</li><li>售后保障</li>'
    f'<li>商品评价</li></ul><h2>商品详情</h2><table class="specs">{_BENCH_SPEC_ROWS}</table>'
    + "".join(f"<p>{escape(p)}</p>" for p in DETAIL_PARAGRAPHS * 6)
    + "".join(
        f"<h3>售后说明 {i}</h3><p>自签收之日起七日内，商品及包装保持出售时原状且配件齐全的，可申请无理由退货；"
        f"十五日内出现质量问题可申请换货。第{i}条 以上条款最终解释权归本店所有。</p>"
        for i in range(1, 25)
    )
    + "</div>"
)
_BENCH_NAV = "".join(
    f'<dl class="cate-item"><dt><a href="/">{escape(name)}</a></dt><dd>'
    + "".join(f'<a href="/">{escape(name)}{j}</a>' for j in range(1, 15))
    + "</dd></dl>"
    for name, _ in catalog.BENCH_CATEGORIES
)
_BENCH_SITE = SITES["bench"]
_BENCH_TOP = header(_BENCH_SITE) + f'<div class="category-menu">{_BENCH_NAV}</div>'
_BENCH_BOTTOM = footer(_BENCH_SITE)
_BENCH_OPTIONS = sku_selector((("颜色", ("经典黑", "月光白", "星空蓝")), ("规格", ("标准版", "豪华版", "旗舰版"))))


def _bench_recommendations(n: int) -> str:
    items = []
    for i in range(12):
        m = (n * 31 + i * 977) % catalog.BENCH_PAGE_COUNT
        items.append(
            f'<li><a href="/bench/product/{m}.html"><img src="/static/img/{m % 64}.png" alt="">'
            f'<p class="rec-name">{escape(catalog.bench_title(m))}</p>'
            f'<p class="rec-price">¥{money(catalog.expected_bench_price(m))}</p></a></li>'
        )
    return f'<div class="recommend guess-you-like"><h3>猜你喜欢</h3><ul>{"".join(items)}</ul></div>'


def _bench_jsonld(n: int, title: str, price: Decimal) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": title,
        "sku": f"B{n:05d}",
        "brand": {"@type": "Brand", "name": title.split(" ", 1)[0]},
        "image": [f"/static/img/{n % 64}.png"],
        "offers": {
            "@type": "Offer",
            "price": money(price),
            "priceCurrency": catalog.CURRENCY,
            "availability": "https://schema.org/InStock",
        },
    }
    return f'<script type="application/ld+json">{json_for_script(data)}</script>\n'


def _bench_body(n: int, title: str, price_html: str, gallery_html: str) -> str:
    return (
        f'{_BENCH_TOP}<div class="breadcrumb"><a href="/">首页</a><a href="/">全部商品</a><span>B{n:05d}</span></div>'
        f'<div class="product-main">{gallery_html}<div class="product-info">'
        f'<h1 class="product-title">{escape(title)}</h1>{price_html}'
        f"{promo_block((catalog.bench_promo(n),))}{_BENCH_OPTIONS}{buy_buttons(True)}</div></div>"
        f"{_bench_recommendations(n)}{_BENCH_DETAIL}{_BENCH_BOTTOM}"
    )


def _bench_shell(title: str, head: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="stylesheet" href="/static/css/shop.css">\n{head}</head>\n<body>\n{body}\n</body>\n</html>\n'
    )


@lru_cache(maxsize=1024)
def bench_product_page(n: int) -> bytes:
    """``/bench/product/<n>.html``: JSON-LD, visible price and a 猜你喜欢 block (~30 KB, UTF-8)."""
    title = catalog.bench_title(n)
    price = catalog.expected_bench_price(n)
    original = catalog.expected_bench_original_price(n)
    price_html = price_area(ItemState(price, original, True))
    body = _bench_body(n, title, price_html, gallery((n % 64, (n + 1) % 64, (n + 2) % 64), title))
    return _bench_shell(title, _bench_jsonld(n, title, price), body).encode("utf-8")


BENCH_RENDER_IMAGES = 8

BENCH_RENDER_SCRIPT = """\
fetch("/bench/api/price/%d").then(function (r) { return r.json(); }).then(function (d) {
  document.getElementById("price").textContent = d.price;
  document.getElementById("original-price").textContent = "\\u00a5" + d.original_price;
});
"""


@lru_cache(maxsize=256)
def bench_render_page(n: int) -> bytes:
    """``/bench/render/<n>.html``: price filled by JavaScript; unique image and font URLs per page."""
    title = catalog.bench_title(n)
    images = tuple(10_000 + n * BENCH_RENDER_IMAGES + i for i in range(BENCH_RENDER_IMAGES))
    price_html = (
        '<div class="price-area"><span class="price-label">促销价</span><span class="price-current"><em>¥</em>'
        '<span class="price" id="price"></span></span><span class="price-label">原价</span>'
        '<del class="price-original" id="original-price"></del></div>'
    )
    head = (
        f'<style>@font-face {{ font-family: "BenchFont{n}"; src: url("/static/font/{n}.woff2") format("woff2"); }}'
        f' body {{ font-family: "BenchFont{n}", sans-serif; }}</style>\n'
    )
    body = _bench_body(n, title, price_html, gallery(images, title)) + (f"<script>\n{BENCH_RENDER_SCRIPT % n}</script>")
    return _bench_shell(title, head, body).encode("utf-8")


def bench_price_json(n: int) -> dict[str, object]:
    return {
        "id": n,
        "price": money(catalog.expected_bench_price(n)),
        "original_price": money(catalog.expected_bench_original_price(n)),
        "currency": catalog.CURRENCY,
    }
