"""Settings, read once from environment variables (GATESCOPE_*)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Limits keep one request well under a second and its answer a few MB at most."""

    model_config = SettingsConfigDict(env_prefix="GATESCOPE_", populate_by_name=True)

    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        None, validation_alias="DATABASE_URL",
        description="postgresql://… to keep models and links in PostgreSQL instead of SQLite under data_dir",
    )
    max_steps: int = Field(2000, ge=1, description="longest sequence, in time steps")
    max_hidden: int = Field(512, ge=1, description="largest hidden size H")
    max_layers: int = Field(4, ge=1, description="most stacked layers")
    max_input_size: int = Field(1024, ge=1, description="largest input size I of inline weights")
    max_values: int = Field(
        1_800_000, ge=1,
        description="most numbers in one answer: T × H × layers × 6 arrays (14 with parts), "
        "float64 counting twice; about 20 MB of JSON",
    )
    compute_slots: int = Field(1, ge=1, description="runs computed at once per process")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="largest uploaded weights file")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="largest request body")
    max_link_bytes: int = Field(64 * 1024, ge=1024, description="largest share-link state, as JSON")


@lru_cache
def get_settings() -> Settings:
    return Settings()
