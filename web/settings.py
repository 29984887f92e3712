"""The ``[web]`` config section: where the dashboard listens, who may use it, how links are built.

```toml
[web]
host = "127.0.0.1"          # a non-loopback address needs at least one user or token
port = 8080
public_url = "https://jingshao.example.com"   # chat alerts link to {public_url}/alerts/{id}
login_attempts = 5           # failed logins per user and client within login_window_seconds
login_window_seconds = 300

  [[web.users]]
  name = "ops"
  role = "admin"             # admin edits, viewer reads
  password = "${JINGSHAO_OPS_PASSWORD}"   # or password_hash = "scrypt$..." from `jingshao users hash`

  [[web.tokens]]
  name = "grafana"
  role = "viewer"
  token = "${JINGSHAO_GRAFANA_TOKEN}"
```
Users and tokens may also live in the database (`jingshao users add`, `jingshao users token`).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Role = Literal["admin", "viewer"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebUserConfig(_Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Role = "viewer"
    password: SecretStr | None = None
    password_hash: SecretStr | None = Field(default=None, description="scrypt$... as `jingshao users hash` prints")

    @model_validator(mode="after")
    def _one_password(self) -> WebUserConfig:
        if (self.password is None) == (self.password_hash is None):
            raise ValueError(f"user {self.name!r}: give exactly one of password or password_hash")
        if self.password is not None and len(self.password.get_secret_value()) < 8:
            raise ValueError(f"user {self.name!r}: password must have at least 8 characters")
        if self.password_hash is not None and not self.password_hash.get_secret_value().startswith("scrypt$"):
            raise ValueError(f"user {self.name!r}: password_hash must start with scrypt$ (see `jingshao users hash`)")
        return self


class WebTokenConfig(_Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Role = "viewer"
    token: SecretStr

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("an API token must have at least 16 characters")
        return value


class WebConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = Field(default=None, description="external base URL, for links in chat alerts")
    users: list[WebUserConfig] = Field(default_factory=list)
    tokens: list[WebTokenConfig] = Field(default_factory=list)
    session_hours: float = Field(default=12, gt=0)
    login_attempts: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    # The extraction preview fetches pasted URLs from the server: internal addresses (loopback, private,
    # link-local such as cloud metadata) only when this is set (the demo and the tests run on 127.0.0.1).
    preview_allow_private: bool = False

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _unique_names(self) -> WebConfig:
        for kind, names in (("user", [u.name for u in self.users]), ("token", [t.name for t in self.tokens])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind} names must be unique; repeated: {dupes}")
        return self

    @property
    def secure_cookies(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; anything else is reachable from outside."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
