"""Settings, read once from environment variables (GATESCOPE_*): where the store is, and every limit."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.service.limits import Limits


class Settings(Limits, BaseSettings):
    """The store's place, and the limits (app.service.limits), each from GATESCOPE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="GATESCOPE_", populate_by_name=True)

    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        None,
        validation_alias="DATABASE_URL",
        description="postgresql://… to keep models and links in PostgreSQL instead of SQLite under data_dir",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
