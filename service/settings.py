"""The service's configuration: every knob, read from `OPTADVISOR_*` environment variables."""

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
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
        default=64,
        ge=0,
        description="Jobs (with their bodies received) allowed to wait for a worker, in arrival order; "
        "beyond that requests get 503 with Retry-After.",
    )
    compute_queue_timeout: float = Field(
        default=20.0,
        gt=0,
        description="Seconds a job may wait for a worker, or for memory other running jobs hold, before "
        "its request gets 503 with Retry-After.",
    )
    compute_memory_bytes: int = Field(
        default=1024 * MIB,
        ge=16 * MIB,
        description="Memory running jobs may hold for what their requests expand to (parsed JSON, "
        "decompressed and densified arrays, the profile's and replay's working memory), on top of the "
        "bodies; a request that can never fit gets 413, one that does not fit now waits, then 503.",
    )
    max_buffered_bytes: int = Field(
        default=512 * MIB,
        ge=1024,
        description="Bytes of request bodies held in memory at once, counted as they arrive; a body that "
        "does not fit gets 503 with Retry-After.",
    )
    max_compute_work: int = Field(
        default=2**30,
        ge=1,
        description="Work one request may ask for, counted before it starts: one unit is one coordinate "
        "through one optimizer step of a replay (a step's fixed cost counts 8,192); more gets 413.",
    )
    compute_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds of compute one request may take once it runs; then it gets 503.",
    )
    retry_after_seconds: int = Field(
        default=2, ge=1, description="Retry-After value sent with 503 when the server is saturated."
    )
    timeout_keep_alive: float = Field(
        default=5.0, gt=0, description="Seconds an idle keep-alive connection stays open."
    )
    timeout_graceful_shutdown: float = Field(
        default=20.0, gt=0, description="Seconds in-flight requests get to finish after SIGTERM."
    )
    request_head_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a request's line and headers, counted from connecting (or "
        "from the first byte of a later request on a kept-alive connection); a silent connection is closed, "
        "a stalled one gets 408. Applies under `optadvisor serve`.",
    )
    request_read_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a client has to deliver a request's body once the app starts reading it "
        "(slow senders get 408).",
    )
    limit_concurrency: int = Field(
        default=256,
        ge=1,
        description="Most open connections/tasks before new requests get 503 outright (a problem with "
        "Retry-After).",
    )
    malloc_keep_freed_bytes: int = Field(
        default=64 * MIB,
        ge=0,
        le=2**31 - 1,
        description="glibc only: freed heap memory kept for reuse instead of returned to the OS, so large "
        "uploads do not page-fault on every chunk (RSS may stay this much above its low point); 0 leaves "
        "the allocator's defaults. Applied as glibc's MALLOC_TRIM_THRESHOLD_ (and MALLOC_MMAP_THRESHOLD_) "
        "by `optadvisor serve`, which restarts itself with them; an app run by another server command "
        "needs them in that process's environment.",
    )

    database_url: str = Field(
        default="sqlite:///optadvisor.db",
        description="Where studies are stored: `sqlite:///<file>` (WAL mode; a relative path is in the "
        "working directory) or `postgresql+psycopg://user:password@host/db` for replicas sharing one store. "
        "The schema is migrated at start-up.",
    )
    retention_days: float = Field(
        default=365.0,
        ge=0,
        description="Studies older than this many days are deleted with their outcomes (checked hourly); 0 "
        "keeps them forever.",
    )
    report_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs report links when API keys are configured; by default derived from "
        "the API keys, so replicas with the same keys accept each other's links.",
    )
    report_link_seconds: int = Field(
        default=86_400,
        ge=60,
        description="How long a signed report link stays valid, in seconds.",
    )
    evidence_min_studies: int = Field(
        default=20,
        ge=1,
        description="Similar studies (from identified clients) needed before other studies may move advice.",
    )
    evidence_min_keys: int = Field(
        default=5,
        ge=1,
        description="Distinct API keys among those studies needed before they may move advice.",
    )
    evidence_key_weight_cap: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Largest share of the cross-study weight any one API key can carry.",
    )
    evidence_max_move: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Largest bonus, in units of regret, other studies can add to configurations in all.",
    )
    evidence_refresh_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between two snapshots of the cross-study evidence (answers name the one used).",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @model_validator(mode="after")
    def _one_body_fits_the_buffer(self) -> Self:
        # Otherwise a body within the request limit could never be buffered: 503 forever instead of 413.
        if self.max_buffered_bytes < self.max_request_bytes:
            raise ValueError("max_buffered_bytes must be at least max_request_bytes")
        return self
