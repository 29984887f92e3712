"""Bundled demo sites served on 127.0.0.1 (tests, benchmarks and ``jingshao demo``).

- :mod:`jingshao.demo.catalog`: the products, their states and what a correct crawl should find.
- :mod:`jingshao.demo.pages`: HTML templates (pure functions of catalog data and a shop state).
- :mod:`jingshao.demo.assets`: generated PNGs, web fonts and the style sheet.
- :mod:`jingshao.demo.router`: ``(method, regex) -> handler`` routing with typed requests/responses.
- :mod:`jingshao.demo.shop`: shop state and the shop's routes.
- :mod:`jingshao.demo.server`: :class:`~jingshao.demo.server.DemoServer` and
  ``python -m jingshao.demo.server``.
"""
