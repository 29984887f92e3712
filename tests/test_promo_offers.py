"""到手价: promo copy -> structured offers -> the best final price (crawlers/extract/offers.py)."""

from decimal import Decimal

import pytest

from jingshao.crawlers.extract.offers import final_price, parse_offers

D = Decimal

# (promo copy, price, quantity, expected per-unit final price, expected offer kinds in text order)
CASES = [
    ("满300减40", "329", 1, "289.00", ["threshold"]),
    ("满300减40", "199", 1, "199.00", ["threshold"]),
    ("满300减40", "199", 2, "179.00", ["threshold"]),
    ("每满200减30，上不封顶", "699", 1, "609.00", ["per_threshold"]),
    ("每满100减10 最高减50", "899", 1, "849.00", ["per_threshold"]),
    ("每满100元减15元", "250", 1, "220.00", ["per_threshold"]),
    ("满2件8折", "100", 2, "80.00", ["qty_rate"]),
    ("满2件8折", "100", 1, "100.00", ["qty_rate"]),
    ("满3件打7.5折", "60", 3, "45.00", ["qty_rate"]),
    ("第2件半价", "80", 2, "60.00", ["nth_rate"]),
    ("第二件半价", "80", 1, "80.00", ["nth_rate"]),
    ("第2件0元", "50", 2, "25.00", ["nth_rate"]),
    ("2件9折", "200", 2, "180.00", ["qty_rate"]),
    ("两件8.5折", "100", 2, "85.00", ["qty_rate"]),
    ("限时直降200元", "2999", 1, "2799.00", ["unit_off"]),
    ("下单立减50", "599", 1, "549.00", ["unit_off"]),
    ("立减 ¥30", "199", 1, "169.00", ["unit_off"]),
    ("领券减20", "159", 1, "139.00", ["coupon"]),
    ("店铺券减10 | 满199减20", "209", 1, "179.00", ["coupon", "threshold"]),
    ("满199减20 | 店铺券减10", "209", 1, "179.00", ["threshold", "coupon"]),
    ("券后价 ¥159", "189", 1, "159.00", ["stated_final"]),
    ("券后￥89.9", "99.9", 1, "89.90", ["stated_final"]),
    ("到手价 1299", "1399", 1, "1299.00", ["stated_final"]),
    ("到手价¥1299 | 满1000减100", "1399", 1, "1299.00", ["stated_final", "threshold"]),
    ("定金100抵300，尾款1699", "1999", 1, "1799.00", ["presale"]),
    ("定金￥50膨胀至￥150", "499", 1, "499.00", []),  # 膨胀至: not understood, nothing guessed
    ("定金50抵150 尾款349", "499", 1, "399.00", ["presale"]),
    ("PLUS价 ¥5899", "5999", 1, "5999.00", ["unit_price"]),  # member price only with members=True
    ("88VIP价 ¥239", "259", 1, "259.00", ["unit_price"]),
    ("百亿补贴 立减800元", "6799", 1, "5999.00", ["unit_off"]),
    ("国补立减15%最高500", "3999", 1, "3999.00", []),  # a percentage subsidy is not a fixed amount: left alone
    ("国补减500", "3999", 1, "3499.00", ["unit_off"]),
    ("国家补贴减600 | 满3000减200", "4999", 1, "4199.00", ["unit_off", "threshold"]),
    ("以旧换新立减300", "2599", 1, "2299.00", ["unit_off"]),
    ("秒杀价 ¥99", "129", 1, "99.00", ["unit_price"]),
    ("拼团价￥9.9", "19.9", 1, "9.90", ["unit_price"]),
    ("活动价 ¥459.00", "499", 1, "459.00", ["unit_price"]),
    ("满99减10 满199减30 满299减50", "219", 1, "189.00", ["threshold", "threshold", "threshold"]),
    ("跨店每满300减50", "650", 1, "550.00", ["per_threshold"]),
    ("8折", "100", 1, "80.00", ["qty_rate"]),
    ("全场85折", "200", 1, "170.00", ["qty_rate"]),
    ("赠品：保温杯 | 正品保障", "299", 1, "299.00", []),
    ("满减：满300元减30元 领券减15", "320", 1, "275.00", ["threshold", "coupon"]),
    ("优惠券 ¥5 | 第2件半价", "40", 2, "27.50", ["coupon", "nth_rate"]),
    ("满500减50 | 满2件9折", "300", 2, "270.00", ["threshold", "qty_rate"]),
    ("12期免息", "5999", 1, "5999.00", []),
    ("", "10", 1, "10.00", []),
]


@pytest.mark.parametrize(("text", "price", "qty", "want", "kinds"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_promo_copy_gives_the_final_price(text: str, price: str, qty: int, want: str, kinds: list[str]) -> None:
    offers = parse_offers(text)
    assert [o.kind for o in offers] == kinds
    result = final_price(D(price), offers, qty)
    assert result is not None
    assert result.unit == D(want), (text, result.to_json())


def test_there_are_at_least_forty_promo_strings() -> None:
    assert len({c[0] for c in CASES}) >= 40


def test_member_prices_need_members() -> None:
    offers = parse_offers("PLUS价 ¥5899 | 满5000减300")
    assert final_price(D("5999"), offers).unit == D("5699.00")
    assert final_price(D("5999"), offers, members=True).unit == D("5599.00")


def test_final_price_records_the_offers_it_used() -> None:
    offers = parse_offers("满300减40 | 领券减10 | 第2件半价")
    result = final_price(D("320"), offers)
    assert [o.kind for o in result.used] == ["threshold", "coupon"]
    assert result.to_json()["offers"][0]["amount"] == "40"


def test_bad_quantity_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="quantity must be >= 1"):
        final_price(D("10"), [], 0)


def test_no_price_no_final_price() -> None:
    assert final_price(None, parse_offers("满100减10")) is None
