"""Settings, read once from environment variables (GATESCOPE_*): where the store is, and every limit."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.service.limits import Limits


class Settings(Limits, BaseSettings):
    """The store's place, the limits of a request (app.service.limits), and how the server serves,
    each from GATESCOPE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="GATESCOPE_", populate_by_name=True)

    compute_slots: int = Field(1, ge=1, description="runs computed at once per process")
    max_queued: int = Field(
        16, ge=0, description="computations waiting for a compute slot; beyond, 503 at once"
    )
    compute_deadline_seconds: float = Field(
        1.0, gt=0, description="longest a computation waits for a compute slot before it is refused (503)"
    )
    analyze_deadline_seconds: float = Field(
        30.0,
        gt=0,
        description="longest an analysis (POST /api/analyze, seconds of work) waits for a compute slot",
    )
    analyses_at_once: int = Field(1, ge=1, description="analyses (POST /api/analyze) computed at once")
    analyses_queued: int = Field(2, ge=0, description="analyses waiting their turn; beyond, 503 at once")
    analyses_per_minute: int = Field(6, ge=1, description="analyses one client address may ask per minute")
    read_slots: int = Field(
        4, ge=1, description="threads for reads that compute nothing (links, previews kept)"
    )
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="request headers, names and values in total"
    )
    links_per_minute: int = Field(60, ge=1, description="links one client address may create per minute")
    uploads_per_minute: int = Field(30, ge=1, description="uploads one client address may make per minute")
    uploads_at_once: int = Field(2, ge=1, description="uploads read and checked at once; the others wait")
    uploads_wait_seconds: float = Field(
        10.0, gt=0, description="longest an upload waits for its turn to be read before it is refused (503)"
    )
    store_bytes_per_client: int = Field(
        256 * 1024 * 1024,
        ge=1,
        description="bytes one client address may send to be kept in a day (uploads as sent, link "
        "states, saved trainings' weights)",
    )
    rate_limit_addresses: int = Field(
        10_000, ge=1, description="client addresses the rate limits remember (the least recent are forgotten)"
    )
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="largest request body")

    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="the site's address as the world sees it (https://gatescope.example), for the "
        "canonical and OpenGraph URLs of share links; absent: the request's Host header",
    )
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        None,
        validation_alias="DATABASE_URL",
        description="postgresql://… to keep models and links in PostgreSQL instead of SQLite under data_dir",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
