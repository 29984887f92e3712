"""Preference tags against hand-checked reviews: precision and recall of aspects and polarity.

Two sets, one line per review, ``category|review|aspect+ aspect-`` (expected aspect and polarity; empty
when the review names no aspect):

- CRAFTED: 180 reviews written alongside the lexicon, covering every category, synonyms, negation,
  degree and problem words. The lexicon was tuned on them, so their figures are optimistic.
- REAL: 60 real reviews (30 clothes reviews from online_shopping_10_cats, 30 from waimai_10k), sampled at
  random (short ones, 8-45 characters) and labelled by hand before the extractor was run on them. One round
  of lexicon fixes followed (first measured: pairs P 0.84 / R 0.54); what is left is what rules miss:
  aspects implied by events (送了一个半小时), comparisons, enumerations across commas.

Tags come from the default tagger (lexicon + open-vocabulary span tagger). Its implicit overall tags
(整体, 使用体验: 很满意, 好用, 一如既往的好) are left out of the comparison: these sets were labelled
"empty when the review names no aspect", so they say nothing about them either way. Nor do they label
mentions (an aspect named with no opinion on it: polarity ``neu``), which are left out too.

Run with ``-s`` to see the figures. Floors sit a little below the measured values.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from jingshao.nlp.tags import extract_tags

CRAFTED = """\
general|物流很快，包装也很严实，好评|物流+ 包装+
general|快递太慢了，等了一个星期才到|物流-
general|质量不错，价格也实惠|质量+ 价格+
general|客服态度很好，耐心解答问题|客服+
general|客服爱答不理，问了半天没人回|客服-
general|包装破损了，里面的东西也压坏了|包装-
general|性价比很高，推荐购买|价格+
general|价格有点贵，质量一般|价格- 质量-
general|做工粗糙，不值这个价|质量-
general|发货速度很快，第二天就到了|物流+
general|东西还行，就是物流有点慢|物流-
general|质量没问题，用着挺好|质量+
general|包装很精美，送人很有面子|包装+
general|售后服务太差了，退货推来推去|客服-
general|价格便宜，质量也好，物流给力|价格+ 质量+ 物流+
general|物流一点都不快，说好的次日达|物流-
general|质量不太好，用了一周就坏了|质量-
general|卖家很热情，发货也及时|客服+ 物流+
general|盒子都压扁了，包装太简陋|包装-
general|很满意的一次购物|
general|第二次购买了，一如既往的好|
general|快递员态度很差，直接扔门口|物流-
general|手感很好，质感不错|质量+
general|价格比超市便宜多了|价格+
general|效果不明显，用了一个月没变化|效果-
general|效果很好，会回购|效果+
general|做工精致，细节处理得很好|质量+
general|物流超级快，隔天就到|物流+
general|服务态度好，有问必答|客服+
general|质量太差，跟描述严重不符|质量-
general|包装完好，没有破损|包装+
general|快递很给力，包装也用心|物流+ 包装+
general|价格偏贵，但是质量确实好|价格- 质量+
general|客服回复很慢，等了一天|客服-
general|用料很足，品质有保证|质量+
general|配送速度慢，东西还行|物流-
general|整体不错，值得购买|
general|性价比一般，不如别家|价格-
general|店家很负责，有问题马上处理|客服+
general|质量有问题，申请退货了|质量-
apparel|衣服尺码偏小，建议买大一码|尺码-
apparel|大小合适，穿着很舒服|尺码+
apparel|颜色和图片一样，没有色差|颜色+
apparel|色差很大，实物比图片暗很多|颜色-
apparel|面料很薄，有点透|面料-
apparel|面料柔软，亲肤透气|面料+
apparel|版型很好看，显瘦|款式+
apparel|洗了一次就掉色了，质量太差|颜色- 质量-
apparel|穿了两次就起球，不推荐|面料-
apparel|码数标准，按平时尺码买的正好|尺码+
apparel|做工还可以，线头有点多|质量+ 质量-
apparel|款式很时尚，上身效果好|款式+
apparel|尺码偏大，退换麻烦|尺码-
apparel|颜色很正，很喜欢|颜色+
apparel|衣服质量不错，物流也快|质量+ 物流+
apparel|裤子太长了，要去改|尺码-
apparel|料子厚实，冬天穿很暖和|面料+
apparel|鞋子码数偏小，挤脚|尺码-
apparel|颜色有点色差，不过能接受|颜色-
apparel|面料有点扎人，穿着不舒服|面料-
apparel|版型一般，显胖|款式-
apparel|衣服很好看，就是偏大了一码|尺码-
apparel|布料舒服，做工精细，价格实惠|面料+ 质量+ 价格+
apparel|洗了缩水严重，穿不了了|尺码-
apparel|尺码合适，颜色也好看|尺码+ 颜色+
apparel|包装简单，衣服有异味|包装- 质量-
apparel|上身效果一般般，和模特差很多|款式-
apparel|腰围合适，长度刚好|尺码+
apparel|质感很好，看起来很高级|质量+
apparel|物流慢，衣服还有股味道|物流- 质量-
apparel|款式老气，颜色也土|款式- 颜色-
apparel|这个价格买到这个质量很值|价格+ 质量+
apparel|衣服很合身，面料也不错|尺码+ 面料+
apparel|衣服掉毛严重|面料-
apparel|客服推荐的尺码很准|客服+ 尺码+
apparel|色差不大，可以接受|颜色+
apparel|大小不合适，退了|尺码-
apparel|颜色比图片还好看|颜色+
apparel|面料不透气，夏天穿很闷|面料-
apparel|码子偏小一码，其他都好|尺码-
electronics|屏幕清晰，色彩鲜艳|屏幕+
electronics|电池续航一般，一天要充两次|电池-
electronics|充电很快，半小时充满|电池+
electronics|运行流畅，玩游戏不卡|性能+
electronics|用了一个月就开始卡顿|性能-
electronics|音质很好，低音很震撼|音质+
electronics|声音太小了，外放听不清|音质-
electronics|外观漂亮，手感很好|外观+ 质量+
electronics|发热严重，玩一会就烫手|发热-
electronics|续航很给力，重度使用一天没问题|电池+
electronics|屏幕有点偏色，发黄|屏幕-
electronics|信号很差，经常断网|信号-
electronics|系统很流畅，反应快|性能+
electronics|耗电太快了，电池不耐用|电池-
electronics|画质细腻，看电影很爽|屏幕+
electronics|性价比很高，比实体店便宜|价格+
electronics|客服说是正常现象，不给换|客服-
electronics|颜值很高，拿出去很有面子|外观+
electronics|电池不耐用，一天三充|电池-
electronics|速度很快，开机几秒钟|性能+
electronics|耳机音质一般，有杂音|音质-
electronics|屏幕太小，看着累|屏幕-
electronics|包装很严实，物流也快|包装+ 物流+
electronics|发货慢，等了五天|物流-
electronics|做工一般，有缝隙|质量-
electronics|待机时间长，很省电|电池+
electronics|wifi信号不稳定|信号-
electronics|外形时尚，就是有点重|外观+
electronics|价格贵了点，但性能强|价格- 性能+
electronics|充电器发烫，有点担心|发热-
food|味道很好，分量也足|味道+ 分量+
food|太咸了，根本吃不下|味道-
food|送餐很快，饭菜还是热的|物流+
food|分量太少了，不够吃|分量-
food|口感一般，有点油腻|味道-
food|骑手态度很好，提前送到了|物流+
food|菜都凉了，送了一个多小时|物流-
food|味道正宗，下次还点|味道+
food|量很大，两个人都吃不完|分量+
food|菜品很新鲜，味道不错|新鲜度+ 味道+
food|米饭太硬了|味道-
food|包装很好，没有洒|包装+
food|好吃，价格也实惠|味道+ 价格+
food|外卖小哥送错了，还态度差|物流-
food|口味偏淡，不太合我胃口|味道-
food|分量足，性价比高|分量+ 价格+
food|难吃，再也不点了|味道-
food|送餐速度慢，味道还行|物流- 味道+
food|饭菜里有头发，恶心|味道-
food|味道一般，分量少|味道- 分量-
food|很香，辣度刚好|味道+
food|餐盒漏了，汤洒了一袋子|包装-
food|口感很好，肉也嫩|味道+
food|配送很及时，赞|物流+
food|量少价贵，不值|分量- 价格-
food|味道不错，就是送得太慢|味道+ 物流-
food|一如既往的好吃|味道+
food|食材不新鲜，有股怪味|新鲜度-
food|小哥很辛苦，送餐很准时|物流+
food|菜量少得可怜|分量-
beauty|味道很好闻，淡淡的清香|香味+
beauty|香味有点刺鼻，不喜欢|香味-
beauty|质地清爽，吸收很快|肤感+
beauty|用了过敏，脸上起痘|肤感-
beauty|保湿效果很好，皮肤滋润|肤感+ 效果+
beauty|有点油腻，不适合夏天|肤感-
beauty|色号很显白，颜色很正|颜色+
beauty|留香时间短，一会就没味了|持久度-
beauty|效果一般，没什么变化|效果-
beauty|包装精致，送人很好|包装+
beauty|用了搓泥，很难推开|肤感-
beauty|价格有点贵，但效果好|价格- 效果+
beauty|味道太浓了，熏得头疼|香味-
beauty|持妆很久，一天不脱妆|持久度+
beauty|正品，物流也快|物流+
beauty|颜色和图片有色差|颜色-
beauty|肤感很舒服，不黏腻|肤感+
beauty|客服很耐心，推荐的色号很适合|客服+ 颜色+
beauty|性价比超高，已回购|价格+
beauty|用了刺痛，不敢再用了|肤感-
home|安装很方便，十分钟搞定|安装+
home|安装太麻烦了，说明书看不懂|安装-
home|尺寸正好，放在客厅很合适|尺寸+
home|材质很好，很结实|材质+
home|有很大的异味，放了一个月还有|材质-
home|噪音很大，晚上睡不着|噪音-
home|噪音很小，几乎听不到|噪音+
home|颜色和图片一样，很好看|颜色+
home|尺寸偏小，和描述不符|尺寸-
home|质量很好，很稳固|质量+
home|外观漂亮，很有设计感|外观+
home|板材很薄，一压就变形|材质-
home|安装师傅很专业，服务也好|安装+ 客服+
home|物流太慢了，等了半个月|物流-
home|包装很严实，没有磕碰|包装+
home|价格实惠，性价比很高|价格+
home|有色差，颜色偏深|颜色-
home|做工粗糙，边角有毛刺|质量-
home|大小合适，质量也不错|尺寸+ 质量+
home|客服态度差，安装也不管|客服- 安装-
"""

REAL = """\
apparel|物品质量，颜色，款式均与描述相符合，非常满意，品质就是力量，下次还选择南极人！|质量+ 颜色+ 款式+
apparel|裤子也很不错，可惜我买大了一码，讲究着穿吧|尺码-
apparel|太他 妈的瘦了 懒得退|尺码-
apparel|一次失败的网购，和图片上的色差这么远，差评|颜色-
apparel|收到了，质量不错，物流快，满意|质量+ 物流+
apparel|看了 买了 收到 没洗 没穿 谢谢|
apparel|物流太慢，还有我要的是黑色，结果打开是蓝色，这是很不爽，将就穿吧|物流- 颜色-
apparel|质量好，穿起来舒服，只是领太高，冬天用来打底，见到领口|质量+ 款式-
apparel|裤子不错哦，和图片上的颜色一样，我很满意。好评！祝店家越办越好。|颜色+
apparel|发的货跟实物完全不一样，算了，再也不会来这家店买衣服了，一分都不想给！|质量-
apparel|质量不错 款式喜欢，价格也实惠|质量+ 款式+ 价格+
apparel|衣服太薄，质量也不怎么样，衣服口袋都是坏的！！！|面料- 质量-
apparel|裤子版型很好，穿上很舒服，没有线头或开线的地方，非常值得购买的一件宝贝！！！好评|款式+ 质量+
apparel|东东很快就收到了，质量很好，物美价廉，还会再次光顾的～哦Koko哦哦哦哦可咔咔咔～|物流+ 质量+ 价格+
apparel|很给力的款式，价格合理，以后继续购买花花公子的商品|款式+ 价格+
apparel|掉色太**严重了，拆开包装一看，袋子都被染黑了！|颜色-
apparel|质量好差阿,失败的购物，邮来裤子是潮的，快递蛮横，烦|质量- 物流-
apparel|裤子质量不错。穿起来挺舒适的，对这次购物挺满意的。|质量+
apparel|裤子质量非常的好，腰围大小很合适，上身效果也好，穿着也舒服，很不错的裤子。|质量+ 尺码+ 款式+
apparel|特别好，老公很喜欢。这个裤子性价比很高|价格+
apparel|质量特别差，掉色严重，属于垃圾|质量- 颜色-
apparel|我和客服说我174，150斤，客服推荐买L号，结果穿在身上跟裙子一样，号码严重偏大偏肥|尺码- 客服-
apparel|物流很快，裤子也不错，真的是物有所值，是一次很满意的购物！|物流+ 价格+
apparel|说好的，夏天的裤子，怎么那么厚，，怎么穿啊，布料太厚，没办法穿|面料-
apparel|手感不错，穿了还比较舒服，不错，，，，|质量+
apparel|东西不错，性价比可以，下次会考虑购买。。|价格+
apparel|无良商家，质量这么差。都是刷单刷上去的排名吧？|质量-
apparel|首先不给退货！然后呢裤子大的跟b一样！laji服务！客服态度真差？！再来这里买！呵呵！跳楼|尺码- 客服-
apparel|码子偏小，掉色厉害，穿了两三次不敢再穿了。|尺码- 颜色-
apparel|很是喜欢。和图片上一模一样，很不错的|
food|无语O__O"…问苍天|
food|汤汁洒的都没食欲了。|包装-
food|卷饼还行,送餐速度太恶心,整得心情极差,订之前考虑一下|味道+ 物流-
food|师傅送餐神速也！,非常耐心,非常体贴。谢谢！|物流+
food|骑手师傅真心快，服务态度好|物流+
food|非常不错，还送饮料了！棒棒哒！|
food|订餐后经催促一个多小时才送到，菜和饭都是凉的，吃的很不舒服|物流-
food|除了粉之外，其他的配菜有点老|味道-
food|粥特别实惠，还有卷饼|价格+
food|天这么冷，送餐师傅很不容易，赞！|物流+
food|差差差！时间太久！|物流-
food|用来加餐是极好的|
food|菜里竟然有不知道是锅,还是,盘子的碎片,太过分了！！！！|质量-
food|不错，味道挺好的|味道+
food|一份鱼香肉丝小炒的量还没有盖饭的分量足，根本不够吃！！！！图文不符！！！|分量-
food|服务热情周到，菜品可口|客服+ 味道+
food|油里泡出来的，肉段硬的跟柴火似的。差评。|味道-
food|点了很久才送来，而且点的炸酱面坨的不成样子……差评！|物流- 味道-
food|为什么不给餐具？,洒的到处汤汤水水的|包装-
food|赞赞赞,好好好,以后还来|
food|宇宙卷饼，不是盖的|
food|送餐人员的态度很差|物流-
food|没有按客户要求提醒星巴克把咖啡去冰|客服-
food|沙拉不给酱而且开封了居然,也不给餐具,一点十分送达却显示12点半送达|包装- 物流-
food|不是自己吃的。。不过应该很好吃吧。。不然朋友也不会经常订这个啦~~|
food|饼难吃,肉不入味,送了一个半小时,量特少|味道- 物流- 分量-
food|还是很好，而且是非常热乎滴|
food|锅包肉和地三鲜都好难吃，酱骨还可以！|味道- 味道+
food|时间太长，菜到家都坨了|物流-
food|作为湖北人觉得还是也很正宗的！|味道+
"""


OVERALL = ("整体", "使用体验")


@dataclass
class Scores:
    pair_p: float
    pair_r: float
    aspect_p: float
    aspect_r: float
    polarity_acc: float  # on aspects found and expected: same polarity set
    n_reviews: int


def evaluate(table: str) -> Scores:
    tp = fp = fn = atp = afp = afn = pol_ok = pol_n = n = 0
    for line in table.strip().splitlines():
        category, text, expected = line.split("|")
        n += 1
        gold = {(e[:-1], "pos" if e[-1] == "+" else "neg") for e in expected.split()}
        # 整体 / 使用体验 are overall opinions with no aspect written (很满意, 好用): these sets label none
        # mentions (an aspect named with no opinion, polarity "neu") are not preferences: these sets label none
        got = {
            (t.aspect, t.polarity)
            for t in extract_tags(text, category)
            if t.aspect not in OVERALL and t.polarity != "neu"
        }
        tp, fp, fn = tp + len(gold & got), fp + len(got - gold), fn + len(gold - got)
        gold_a, got_a = {a for a, _ in gold}, {a for a, _ in got}
        atp, afp, afn = atp + len(gold_a & got_a), afp + len(got_a - gold_a), afn + len(gold_a - got_a)
        for a in gold_a & got_a:
            pol_n += 1
            pol_ok += {p for x, p in gold if x == a} == {p for x, p in got if x == a}
    return Scores(tp / (tp + fp), tp / (tp + fn), atp / (atp + afp), atp / (atp + afn), pol_ok / pol_n, n)


@pytest.mark.parametrize(
    ("name", "table", "floors"),
    [
        ("crafted", CRAFTED, (0.95, 0.90, 0.97)),
        ("real", REAL, (0.85, 0.60, 0.90)),
    ],
)
def test_tag_precision_recall(name: str, table: str, floors: tuple[float, float, float]) -> None:
    s = evaluate(table)
    print(
        f"\n{name} ({s.n_reviews} reviews): aspect+polarity P={s.pair_p:.3f} R={s.pair_r:.3f}; "
        f"aspect P={s.aspect_p:.3f} R={s.aspect_r:.3f}; polarity agreement on found aspects {s.polarity_acc:.3f}"
    )
    p_floor, r_floor, pol_floor = floors
    assert s.pair_p >= p_floor and s.pair_r >= r_floor and s.polarity_acc >= pol_floor, s


def test_gold_sets_are_big_enough() -> None:
    assert len(CRAFTED.strip().splitlines()) + len(REAL.strip().splitlines()) >= 150
