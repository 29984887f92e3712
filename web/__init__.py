"""The dashboard (数据看板) and REST API: ``create_app(cfg)`` in ``jingshao.web.app``."""
