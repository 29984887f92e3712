"""Config loading: the example is valid, and bad config fails with the file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from jingshao.config import EXAMPLE_CONFIG, ConfigError, load_config


def write(tmp_path: Path, text: str, name: str = "jingshao.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_example_config_is_valid(tmp_path):
    cfg = load_config(write(tmp_path, EXAMPLE_CONFIG))
    assert cfg.timezone == "Asia/Shanghai"
    products = list(cfg.iter_products())
    assert len(products) == 2
    comp, prod, selectors = products[1]
    assert comp.name == "优品数码旗舰店" and prod.render is True
    assert selectors == {"price": "span.price.J-p-1000123::text"}
    assert cfg.crawl.obey_robots_txt and cfg.crawl.autothrottle


def test_relative_sqlite_path_resolves_against_config_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("JINGSHAO_DATABASE_URL", raising=False)
    cfg = load_config(write(tmp_path, "[database]\nurl = 'sqlite:///data/x.db'\n"))
    assert cfg.database_url == f"sqlite:///{tmp_path.resolve() / 'data' / 'x.db'}"


def test_env_overrides_database_url(tmp_path, monkeypatch):
    monkeypatch.setenv("JINGSHAO_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert load_config(write(tmp_path, "")).database_url == "postgresql+psycopg://u@h/db"


def test_env_interpolation(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_HOST", "shop.example.com")
    cfg = load_config(
        write(tmp_path, "[[competitors]]\nname='A'\n[[competitors.products]]\nurl='https://${SHOP_HOST}/1.html'\n")
    )
    assert cfg.competitors[0].products[0].url == "https://shop.example.com/1.html"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[crawl]\ndownload_delay = 'slow'\n", "crawl.download_delay: Input should be a valid number"),
        ("[crawl]\nconcurency_per_domain = 2\n", "crawl.concurency_per_domain: unknown key"),
        (
            "[[competitors]]\nname='A'\n[[competitors.products]]\nurl='ftp://x/1'\n",
            "competitors[0].products[0].url: expected an http:// or https:// URL",
        ),
        (
            "[[competitors]]\nname='A'\n[[competitors.products]]\nname='no url'\n",
            "competitors[0].products[0].url: Field required",
        ),
        ("timezone = 'Mars/Olympus'\n", "timezone: unknown time zone 'Mars/Olympus'"),
        ("[[competitors]]\nname='A'\n[[competitors]]\nname='A'\n", "competitor name 'A' appears twice"),
        ("[browser]\nblock_resources = ['image', 'video']\n", "browser.block_resources[1]"),
        (
            "[[competitors]]\nname='A'\n[[competitors.products]]\nurl='https://x/1'\n"
            "[competitors.products.selectors]\nprise='.p'\n",
            "competitors[0].products[0].selectors.prise: unknown key",
        ),
    ],
)
def test_bad_config_names_file_key_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_unset_env_var_is_an_error_not_an_empty_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    path = write(tmp_path, "[database]\nurl = 'postgresql://u:${NOPE_SECRET}@h/db'\n")
    with pytest.raises(ConfigError, match=r"database\.url: environment variable \$\{NOPE_SECRET\} is not set"):
        load_config(path)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[crawl\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "gbk.toml"
    bad.write_bytes("name = '竞品'".encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)


def test_secret_never_in_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "s3cr3t-value")
    path = write(tmp_path, "[database]\nurl = 'postgresql://u:${DB_PASSWORD}@h/db'\n[crawl]\ntimeout = -1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "s3cr3t-value" not in str(info.value)


def test_secrets_in_url_credentials_are_percent_encoded(tmp_path, monkeypatch):
    from sqlalchemy.engine import make_url

    from jingshao.storage.db import safe_url

    monkeypatch.setenv("PGPASSWORD", "S3cret@PW:/x")
    monkeypatch.setenv("JINGSHAO_DATABASE_URL", "")
    cfg = load_config(
        write(
            tmp_path,
            "redis_url = 'redis://:${PGPASSWORD}@redis.internal:6379/0'\n[database]\n"
            "url = 'postgresql+psycopg://jingshao:${PGPASSWORD}@db.internal/js'\n",
        )
    )
    url = make_url(cfg.database_url)
    assert (url.host, url.password, url.database) == ("db.internal", "S3cret@PW:/x", "js")
    assert "S3cret" not in safe_url(cfg.database_url) and "PW" not in safe_url(cfg.database_url)
    assert cfg.redis_url == "redis://:S3cret%40PW%3A%2Fx@redis.internal:6379/0"


def test_model_path_is_relative_to_the_config_and_must_exist(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mine.npz").write_bytes(b"")
    monkeypatch.chdir("/")
    cfg = load_config(write(tmp_path, "[nlp]\nmodel_path = 'models/mine.npz'\n"))
    assert cfg.nlp.model_path == str(tmp_path.resolve() / "models" / "mine.npz")
    with pytest.raises(ConfigError, match=r"nlp.model_path: no model at .*absent.npz"):
        load_config(write(tmp_path, "[nlp]\nmodel_path = 'models/absent.npz'\n"))
