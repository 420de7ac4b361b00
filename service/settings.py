"""The service's configuration: every knob, read from `OPTADVISOR_*` environment variables."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Server, limits, security and logging settings of one optadvisor process."""

    model_config = SettingsConfigDict(env_prefix="OPTADVISOR_", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", description="Interface `optadvisor serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port `optadvisor serve` listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        description="Server processes `optadvisor serve` runs; above 1 (Linux) each listens on the port "
        "through its own SO_REUSEPORT socket, so the kernel spreads connections across them. Each has its "
        "own compute pool, answer cache and /metrics.",
    )
    max_request_bytes: int = Field(
        default=64 * MIB,
        ge=1024,
        description="Largest request body accepted, counted while it streams in (JSON and multipart); "
        "larger bodies get 413.",
    )
    max_json_depth: int = Field(
        default=32,
        ge=4,
        description="Deepest nesting of arrays/objects accepted in a JSON body; deeper gets 400.",
    )
    max_elements: int = Field(
        default=50_000_000,
        ge=1,
        description="Most gradient values (T x D summed over groups) one request may carry; more gets 413.",
    )
    max_groups: int = Field(default=1024, ge=1, description="Most gradient groups one request may carry.")
    max_form_fields: int = Field(default=16, ge=1, description="Most fields and files in one multipart body.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys. When set, every path under /v1 needs `X-API-Key: <key>` or "
        "`Authorization: Bearer <key>`; probes, metrics and docs stay open.",
    )
    rules: Path | None = Field(
        default=None,
        description="Rule-set file to load instead of the built-in one; an invalid file stops start-up.",
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="`json` (one object per line) or `text`."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    compute_workers: int = Field(
        default=2, ge=1, description="CPU-heavy jobs (parsing, profiling, replay, recommending) run at once."
    )
    compute_queue: int = Field(
        default=8,
        ge=0,
        description="Jobs allowed to wait for a worker; beyond that requests get 503 with Retry-After.",
    )
    retry_after_seconds: int = Field(
        default=2, ge=1, description="Retry-After value sent with 503 when the compute queue is full."
    )
    timeout_keep_alive: float = Field(
        default=5.0, gt=0, description="Seconds an idle keep-alive connection stays open."
    )
    timeout_graceful_shutdown: float = Field(
        default=20.0, gt=0, description="Seconds in-flight requests get to finish after SIGTERM."
    )
    request_read_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a client has to deliver a request's body once the app starts reading it "
        "(slow senders get 408). Header trickling is bounded by limit_concurrency; put a reverse proxy "
        "in front for full slowloris protection.",
    )
    limit_concurrency: int = Field(
        default=256, ge=1, description="Most open connections/tasks before uvicorn answers 503 outright."
    )
    malloc_keep_freed_bytes: int = Field(
        default=64 * MIB,
        ge=0,
        le=2**31 - 1,
        description="glibc only: freed heap memory kept for reuse instead of returned to the OS, so large "
        "uploads do not page-fault on every chunk (RSS may stay this much above its low point); 0 leaves "
        "the allocator's defaults.",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value
