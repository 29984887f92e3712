"""The `products` spider: one request per configured product page, extraction, observation."""

from __future__ import annotations

import codecs
import functools
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from jingshao.crawlers.blocking import (
    BLOCK_STATUSES,
    UNDECIDED,
    BlockingPolicy,
    BlockVerdict,
    detect_block,
    reason_text,
    wall_before_extraction,
)
from jingshao.crawlers.extract import model
from jingshao.crawlers.extract.model import reading_basis
from jingshao.crawlers.extraction_pool import (
    ExtractedPage,
    ExtractionPool,
    WorkerDied,
    extract_page,
    observation_extras,
)
from jingshao.crawlers.failures import request_of
from jingshao.crawlers.items import BlockedPageItem, FailedPageItem, ListPriceItem, ProductObservationItem
from jingshao.crawlers.middlewares import CONDITIONAL, PAGE_STATE, READING, VALIDATED, page_validators
from jingshao.crawlers.spiders.base import TargetsSpider
from jingshao.nlp.settings import NlpConfig
from jingshao.storage.repository import PageState, page_states

FIELDS = ("title", "price", "original_price", "currency", "availability", "promo", "sku", "brand", "price_is_range")


class ProductsSpider(TargetsSpider):
    """Targets (`JINGSHAO_TARGETS`): dicts with url, product_id, render, selectors."""

    name = "products"
    progress_items = (ProductObservationItem, FailedPageItem)
    blocking_policy = BlockingPolicy()
    screenshots = False
    extraction = ExtractionPool(0)
    # Issue 15: Scrapy's spider middlewares that act only on requests a callback yields (Referer sets their
    # Referer header, Depth their depth, MetaCopyDetection warns of copied meta) pass start requests and items
    # through unchanged, and this spider's callbacks yield items only; each still wraps every response's
    # output in one more async generator. UrlLength stays: it drops start requests with too long a URL.
    custom_settings = {
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
        }
    }

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        policy = crawler.settings.get("JINGSHAO_BLOCKING_POLICY")
        if policy is not None:
            spider.blocking_policy = policy
        evidence = crawler.settings.get("JINGSHAO_EVIDENCE")
        spider.screenshots = bool(evidence is not None and evidence.enabled and evidence.screenshots)
        # Issue 15: extraction in worker processes (0: in-process); started by the first page to extract,
        # shut down when the spider closes (after the pages in flight).
        nlp = crawler.settings.get("JINGSHAO_NLP") or NlpConfig()  # the storage pipeline's, for the ad-law hits
        spider.extraction = ExtractionPool(crawler.settings.getint("JINGSHAO_EXTRACT_WORKERS", 0), nlp=nlp)
        crawler.signals.connect(spider.extraction.close, signal=signals.spider_closed)
        # The stored page of every target, read once: the conditional-request middleware takes them from here
        # when the spider opens, and the workers start at once when one has none (issue 15).
        spider.page_states_at_open = stored_page_states(crawler.settings.get("JINGSHAO_DATABASE_URL"), spider.targets)
        if not spider.extraction.in_process and None in spider.page_states_at_open.values():
            # Issue 15: a product without a stored page is extracted whatever its page says, so the workers
            # start now and import the extraction code while Scrapy sets up and fetches robots.txt and the
            # first pages (~0.35 s a worker), instead of with the first page, which then waited for them. A
            # re-crawl of known products still starts none until a page is new or changed.
            spider.extraction.start()
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for target in self.targets:
            yield self.request_for(target)
            if target.get("list_page"):  # issue 12: the list / search page's price (Article 20 audits)
                yield self.list_request(target)

    def list_request(self, target: dict[str, Any]) -> scrapy.Request:
        page = target["list_page"]
        return scrapy.Request(
            page["url"],
            callback=self.parse_list_price,
            errback=self.on_list_error,
            meta={"list_target": target},
            dont_filter=True,
        )

    def parse_list_price(self, response: Response):
        from jingshao.crawlers.extract.prices import parse_price

        target = response.meta["list_target"]
        if not isinstance(response, TextResponse):
            return
        text = " ".join(t.strip() for t in response.css(target["list_page"]["price"]).getall() if t.strip())
        price = parse_price(text)[0] if text else None
        if price is None:
            self.logger.warning("no list price at %s for %s", response.url, target["url"])
            return
        yield ListPriceItem(target["product_id"], response.url, price)

    def on_list_error(self, failure: Failure):
        self.logger.warning("list page %s failed: %s", request_of(failure).url, type(failure.value).__name__)
        return []

    @classmethod
    def start_payloads(cls, target: dict[str, Any]) -> list[dict[str, Any]]:
        """JSON-safe payloads, one per start request of `target` (queued in Redis by a scaled-out crawl)."""
        return [dict(target)]

    def request_from_payload(self, payload: dict[str, Any]) -> scrapy.Request:
        return self.request_for(payload)

    def request_for(self, target: dict[str, Any]) -> scrapy.Request:
        meta: dict[str, Any] = {"target": target, CONDITIONAL: True, **self.browser_meta(bool(target.get("render")))}
        if target.get("render") and self.screenshots:  # issue 12: evidence of a rendered page
            from scrapy_playwright.page import PageMethod

            meta["playwright_page_methods"] = [PageMethod("screenshot", type="png", full_page=False)]
        callback = self.parse_product if self.extraction.in_process else self.parse_product_pooled
        return scrapy.Request(target["url"], callback=callback, errback=self.on_error, meta=meta, dont_filter=True)

    def parse_product(self, response: Response):
        early = self.before_extraction(response)
        if isinstance(early, ProductObservationItem):
            yield early
            return
        target, fingerprint, reading = early
        page = self.extract_here(response, target)
        yield from self.after_extraction(response, page, target, fingerprint, reading)

    def extract_here(self, response: Response, target: dict[str, Any]) -> ExtractedPage:
        """The page extracted on the reactor: the very call an extraction worker makes, but the ad-law hits
        are left to the storage pipeline (it scans new or changed observations only)."""
        encoding = response.encoding if isinstance(response, TextResponse) else None
        return extract_page(response.body, response.url, encoding, target, None)

    async def parse_product_pooled(self, response: Response):
        """:meth:`parse_product` with the extraction in a worker process (``[crawl] extract_workers``):
        the reactor goes on downloading and storing while the page is extracted."""
        early = self.before_extraction(response)
        if isinstance(early, ProductObservationItem):
            yield early
            return
        target, fingerprint, reading = early
        # Issue 15: walls are told before the page leaves the reactor, as an in-process crawl tells them right
        # after its extraction: back-off hears of a wall before the next page of the domain is sent.
        wall = self.wall_before_extraction(response, target)
        if wall is not None and wall is not UNDECIDED:
            yield self.blocked_item(response, target, wall)
            return
        try:
            if wall is UNDECIDED:  # a wall unless extraction finds the product: extracted here, at once
                page = self.extract_here(response, target)
            else:
                encoding = response.encoding if isinstance(response, TextResponse) else None
                page = await self.extraction.extract(response.body, response.url, encoding=encoding, target=target)
        except WorkerDied as exc:
            yield FailedPageItem(
                url=target["url"], product_id=target["product_id"], http_status=response.status, reason=str(exc)
            )
            return
        # wall None: no wall whatever extraction found (detect_block would say None again), so it is not asked.
        for item in self.after_extraction(response, page, target, fingerprint, reading, walls_ruled_out=wall is None):
            yield item

    def before_extraction(self, response: Response) -> ProductObservationItem | tuple[dict[str, Any], str, str]:
        """A page seen unchanged (its item), or what extraction needs: (target, fingerprint, reading)."""
        target = response.meta["target"]
        # Issue 15: the last stored page's state, read when the request went out (ConditionalRequestMiddleware).
        state = response.meta.get(PAGE_STATE)
        stored = state.fingerprint if state is not None else None
        reading = response.meta.get(READING) or page_reading(target)
        if response.status == 304 and response.meta.get(VALIDATED) and state is not None and stored:
            # Not modified since the page last stored: seen unchanged, nothing downloaded or extracted.
            validators = page_validators(response, reading, state.validators)
            return self.unchanged_item(target, stored, validators, None, kept=validators == state.validators)
        fingerprint = page_fingerprint(response.body, reading)
        if fingerprint == stored:
            # The very page last stored, read the same way: seen unchanged, not extracted again.
            validators = page_validators(response, reading)
            kept = state is not None and validators == state.validators
            return self.unchanged_item(target, fingerprint, validators, len(response.body), kept=kept)
        return target, fingerprint, reading

    def after_extraction(
        self,
        response: Response,
        page: ExtractedPage,
        target: dict[str, Any],
        fingerprint: str,
        reading: str,
        *,
        walls_ruled_out: bool = False,
    ) -> Iterator[Any]:
        ext = page.ext
        # Issue 12: a wall (login, captcha, 403/412/429, empty shell) is a blocked page, never an observation.
        # ``walls_ruled_out``: wall_before_extraction found that no signal can fire on this page (issue 15: the
        # page's text is then not decoded again on the reactor for a check that cannot fire).
        blocked = None if walls_ruled_out else self.blocked_page(response, ext, target)
        if blocked is not None:
            yield blocked
            return
        # An out-of-stock page often hides its price; the stock change still matters, so it is
        # stored with price unknown. Any other page without a price is a failure, never price 0.
        if ext.price is None and ext.availability != "OutOfStock":
            yield FailedPageItem(
                url=target["url"],
                product_id=target["product_id"],
                http_status=response.status,
                reason=ext.error or "no price found on page",
            )
            return
        yield ProductObservationItem(
            product_id=target["product_id"],
            url=target["url"],
            fields={f: getattr(ext, f) for f in FIELDS},
            sources=ext.sources,
            rendered=bool(target.get("render")),
            extras=page.extras if page.extras is not None else observation_extras(ext, target),
            adlaw_hits=page.adlaw_hits,
            page_bytes=len(response.body),
            body=response.body,
            screenshot=screenshot_of(response),
            fingerprint=fingerprint,
            validators=page_validators(response, reading),
            # the stored page state was read when the request went out, and there was none
            first_page=PAGE_STATE in response.meta and response.meta[PAGE_STATE] is None,
        )

    @staticmethod
    def unchanged_item(
        target: dict[str, Any],
        fingerprint: str,
        validators: dict[str, Any] | None,
        page_bytes: int | None,
        *,
        kept: bool = False,
    ) -> ProductObservationItem:
        return ProductObservationItem(
            product_id=target["product_id"],
            url=target["url"],
            fields={},
            rendered=bool(target.get("render")),
            page_bytes=page_bytes,  # None for a 304: no body to learn the usual size from
            fingerprint=fingerprint,
            validators=validators,
            seen_unchanged=True,
            not_modified=page_bytes is None,
            state_kept=kept,
        )

    def blocked_page(self, response: Response, ext: Any, target: dict[str, Any]) -> BlockedPageItem | None:
        html = response.text if isinstance(response, TextResponse) else ""
        verdict = detect_block(
            status=response.status,
            requested_url=target["url"],
            url=response.url,
            body=response.body,
            html=html,
            has_product=ext.price is not None,
            usual_bytes=target.get("usual_bytes"),
            redirect_chain=response.meta.get("redirect_urls") or (),
            policy=self.blocking_policy,
        )
        if verdict is None:
            return None
        return self.blocked_item(response, target, verdict)

    def wall_before_extraction(self, response: Response, target: dict[str, Any]) -> BlockVerdict | None:
        """:func:`~jingshao.crawlers.blocking.wall_before_extraction` of a downloaded page."""
        return wall_before_extraction(
            status=response.status,
            requested_url=target["url"],
            url=response.url,
            body=response.body,
            html=(lambda: response.text) if isinstance(response, TextResponse) else (lambda: ""),
            utf8=isinstance(response, TextResponse) and _is_utf8(response.encoding),
            usual_bytes=target.get("usual_bytes"),
            redirect_chain=response.meta.get("redirect_urls") or (),
            policy=self.blocking_policy,
        )

    @staticmethod
    def blocked_item(response: Response, target: dict[str, Any], verdict: BlockVerdict) -> BlockedPageItem:
        return BlockedPageItem(
            url=target["url"],
            product_id=target["product_id"],
            http_status=response.status,
            reason=reason_text(verdict),
            signal=verdict.signal,
            login_wall=verdict.is_login,
        )

    def on_error(self, failure: Failure):
        from scrapy.spidermiddlewares.httperror import HttpError

        from jingshao.crawlers.backoff import DomainPaused

        target = request_of(failure).meta["target"]
        item = self.failed_request(failure, product_id=target["product_id"], url=target["url"])
        if failure.check(DomainPaused):
            item = BlockedPageItem(item.url, f"blocked: {failure.value}", item.product_id, None, signal="paused")
        elif failure.check(HttpError) and failure.value.response.status in BLOCK_STATUSES:
            status = failure.value.response.status
            item = BlockedPageItem(item.url, f"blocked: HTTP {status}", item.product_id, status, signal="status")
        yield item


def stored_page_states(database_url: str | None, targets: list[dict[str, Any]]) -> dict[int, PageState | None]:
    """Each target's product id -> the state of its stored page (None: it has none yet, its page will be
    extracted); empty without a database or targets."""
    ids = [t["product_id"] for t in targets if t.get("product_id") and t.get("url")]
    if not (database_url and ids):
        return {}
    from jingshao.storage.db import open_database

    db = open_database(database_url, upgrade=False)
    try:
        with db.session() as s:
            states = page_states(s, ids)
    finally:
        db.dispose()
    return {pid: states.get(pid) for pid in ids}


def first_pages_ahead(database_url: str | None, targets: list[dict[str, Any]]) -> bool:
    """Whether some target's product has no stored page yet (its page will be extracted)."""
    return None in stored_page_states(database_url, targets).values()


def _is_utf8(encoding: str | None) -> bool:
    try:
        return encoding is not None and codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def screenshot_of(response: Response) -> bytes | None:
    """The PNG a ``screenshot`` page method took of a rendered page, if any."""
    for method in response.meta.get("playwright_page_methods") or ():
        if getattr(method, "method", None) == "screenshot" and isinstance(getattr(method, "result", None), bytes):
            return method.result
    return None


def _how_read(target: dict[str, Any]) -> str:
    return json.dumps(
        [
            reading_basis(target.get("selectors") or None),
            target.get("variant"),
            target.get("quantity"),
            str(target.get("plausibility_factor")),
        ],
        ensure_ascii=False,
    )


def page_reading(target: dict[str, Any]) -> str:
    """sha256 of how a page is read (extractor version and selectors, variant, quantity, plausibility):
    validators stored with another reading are not the current page's (issue 15)."""
    if target.get("selectors"):
        return hashlib.sha256(_how_read(target).encode()).hexdigest()
    # Issue 15: every request computes it (two JSON dumps and two digests, ~2% of an unchanged re-crawl's
    # reactor); a target without selectors is read the same way as every other one with the same
    # variant / quantity / plausibility, so their digest is computed once (keyed by exactly what _how_read
    # reads besides the selectors, and the extractor version reading_basis puts in).
    try:
        return _plain_reading(
            model.EXTRACTOR_VERSION,
            target.get("variant"),
            target.get("quantity"),
            str(target.get("plausibility_factor")),
        )
    except TypeError:  # an unhashable variant or quantity (a config error elsewhere): no cache
        return hashlib.sha256(_how_read(target).encode()).hexdigest()


@functools.lru_cache(maxsize=256, typed=True)  # typed: 1, 1.0 and True dump differently
def _plain_reading(version: str, variant: Any, quantity: Any, plausibility: str) -> str:
    del version  # part of the cache key only: reading_basis reads it
    target = {"variant": variant, "quantity": quantity, "plausibility_factor": plausibility}
    return hashlib.sha256(_how_read(target).encode()).hexdigest()


def page_fingerprint(body: bytes, reading: str) -> str:
    """sha256 of the page's bytes and of how it is read (``reading``: :func:`page_reading`): equal to the
    stored one only when extracting again must give the same row."""
    digest = hashlib.sha256(reading.encode("ascii"))
    digest.update(b"\0")
    digest.update(body)  # no copy of the body (an update, not bytes concatenation)
    return digest.hexdigest()
