"""Config that cannot work is refused at load, naming the file, the key and what is wrong: selectors that
do not compile, empty JSON paths, a product URL twice, URLs with spaces. A channel prefix without the
robot's keyword is a warning naming the channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from jingshao.config import ConfigError, load_config

from .conftest import run_cli

SHOP = '[[competitors]]\nname = "店"\n'


def product(url: str = "https://shop.example.com/1.html", extra: str = "") -> str:
    return f'  [[competitors.products]]\n  url = "{url}"\n{extra}'


REVIEWS_HTML = (
    '    [competitors.products.reviews]\n    kind = "html"\n    url = "https://shop.example.com/r?page={page}"\n'
    '    items = "{items}"\n    [competitors.products.reviews.fields]\n    text = "{text}"\n'
)
REVIEWS_JSON = (
    '    [competitors.products.reviews]\n    kind = "json"\n    url = "https://shop.example.com/r?page={page}"\n'
    '    items = "{items}"\n    [competitors.products.reviews.fields]\n    text = "{text}"\n'
)
MENTIONS = (
    '[[brands]]\nname = "蜜橙"\n[[mention_sources]]\nname = "搜索"\nkind = "{kind}"\n'
    'url = "{url}"\nitem = "{item}"\nlink = "{link}"\nsnippet = "p::text"\n'
)

BAD = {
    "css": (
        SHOP + '[competitors.selectors]\nprice = "div[[[::text"\n' + product(),
        "competitors[0].selectors.price",
        "invalid CSS selector 'div[[[::text'",
    ),
    "css in a product": (
        SHOP + product(extra='    [competitors.products.selectors]\n    title = "h1::attr(("\n'),
        "competitors[0].products[0].selectors.title",
        "invalid CSS selector",
    ),
    "xpath": (
        SHOP + product(extra='    [competitors.products.selectors]\n    price = "xpath://span[@class="\n'),
        "competitors[0].products[0].selectors.price",
        "invalid XPath",
    ),
    "leading-slash xpath": (
        SHOP + product(extra='    [competitors.products.selectors]\n    price = "//span[("\n'),
        "competitors[0].products[0].selectors.price",
        "invalid XPath",
    ),
    "empty json path": (
        SHOP + product(extra='    [competitors.products.selectors]\n    price = "json:"\n'),
        "competitors[0].products[0].selectors.price",
        "empty json: path",
    ),
    "json path with an empty part": (
        SHOP + product(extra='    [competitors.products.selectors]\n    price = "json:__STATE__..price"\n'),
        "competitors[0].products[0].selectors.price",
        "has an empty part",
    ),
    "same product twice": (
        SHOP + product() + '[[competitors]]\nname = "另一店"\n' + product(),
        "competitors[1].products[0].url",
        "already configured at competitors[0].products[0]",
    ),
    "space in a product URL": (
        SHOP + product("https://shop.example.com/a b.html"),
        "competitors[0].products[0].url",
        "contains a space",
    ),
    "review items css": (
        SHOP + product(extra=REVIEWS_HTML.format(page="{page}", items="div..x", text="p::text")),
        "competitors[0].products[0].reviews",
        "items: invalid CSS selector",
    ),
    "review json field": (
        SHOP + product(extra=REVIEWS_JSON.format(page="{page}", items="comments", text="a.")),
        "competitors[0].products[0].reviews",
        "fields.text: JSON path 'a.' has an empty part",
    ),
    "mention css": (
        MENTIONS.format(kind="html", url="https://news.example.com/s?q={keyword}", item="div[", link="a::attr(href)"),
        "mention_sources[0]",
        "item: invalid CSS selector",
    ),
    "mention json path": (
        MENTIONS.format(kind="json", url="https://s.example.com/api?q={keyword}", item="data.", link="url"),
        "mention_sources[0]",
        "item: JSON path",
    ),
    "space in a mention URL": (
        MENTIONS.format(kind="json", url="https://s.example.com/api?q={keyword}&x=a b", item="data", link="url"),
        "mention_sources[0].url",
        "contains a space",
    ),
    "space in a webhook URL": (
        '[[channels]]\nname = "群"\ntype = "webhook"\nurl = "https://hook.example.com/a b"\n',
        "channels[0].webhook.url",
        "contains a space",
    ),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jingshao.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(BAD))
def test_config_that_cannot_work_is_refused_naming_file_and_key(tmp_path, case):
    text, key, message = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = [line.strip() for line in str(info.value).splitlines() if message in line]
    assert lines, str(info.value)
    assert lines[0].startswith(f"{path}: ") and key in lines[0], str(info.value)


def test_selectors_that_work_are_accepted(tmp_path):
    text = (
        SHOP + '[competitors.selectors]\nprice = ".p-price .price::text"\ntitle = "css:h1"\n'
        "sku = \"xpath://span[@id='sku']/text()\"\nbrand = \"(//a[has-class('brand')])[1]\"\n"
        'promo = "json:window.__INITIAL_STATE__.item.promo.0"\n'
        + product(extra=REVIEWS_HTML.format(page="{page}", items="div.rate-item", text=".c::text"))
        + product(
            "https://shop.example.com/2.html?a=1%202",
            REVIEWS_JSON.format(page="{page}", items="data.comments", text="afterUserComment.content"),
        )
    )
    cfg = load_config(write(tmp_path, text))
    assert len(cfg.competitors[0].products) == 2 and cfg.warnings == []


@pytest.mark.slow
def test_a_prefix_without_the_robots_keyword_is_a_warning_naming_the_channel(tmp_path):
    text = (
        '[[channels]]\nname = "品牌危机群"\ntype = "dingtalk"\nurl = "https://oapi.dingtalk.com/robot/send?'
        'access_token=abc"\nprefix = "[监控]"\nkeywords = ["竞哨"]\n'
        '[[channels]]\nname = "运营群"\ntype = "feishu"\nurl = "https://open.feishu.cn/open-apis/bot/v2/hook/x"\n'
        'keywords = ["竞哨"]\n'
    )
    path = write(tmp_path, text)
    cfg = load_config(path)
    assert len(cfg.warnings) == 1 and "'品牌危机群'" in cfg.warnings[0] and "竞哨" in cfg.warnings[0]
    out = run_cli("channels", "list", "--config", str(path))
    assert "config warning" in out.stderr and "品牌危机群" in out.stderr and "运营群" not in out.stderr


@pytest.mark.slow
def test_the_cli_exits_2_on_such_a_config(tmp_path):
    path = write(tmp_path, BAD["css"][0])
    out = run_cli("status", "--config", str(path), check=False)
    assert out.returncode == 2 and "competitors[0].selectors.price" in out.stderr and "div[[[::text" in out.stderr
