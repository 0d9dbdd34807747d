"""Building blocks every part of a drill spec shares: the strict base model, credentials
by variable name, and the unit-parsing field types."""

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from exitkit.drill.units import parse_duration, parse_eur, parse_percent, parse_size

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

Size = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Percent = Annotated[float, BeforeValidator(parse_percent)]
Euros = Annotated[float, BeforeValidator(parse_eur)]


class Strict(BaseModel):
    """Base for spec models: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class Credentials(Strict):
    """Names of the environment variables that hold the keys; never the keys themselves.

    Give ``secret_key_env`` (an S3 secret key, an Azure account key) or, for Azure Blob
    Storage only, ``sas_token_env`` (a shared access signature) instead.
    """

    access_key_env: str = Field(pattern=ENV_NAME)
    secret_key_env: str | None = Field(default=None, pattern=ENV_NAME)
    sas_token_env: str | None = Field(default=None, pattern=ENV_NAME, description="Azure "
                                      "Blob Storage: a SAS token instead of the account key")

    @model_validator(mode="after")
    def _one_secret(self) -> "Credentials":
        if (self.secret_key_env is None) == (self.sas_token_env is None):
            raise ValueError("give exactly one of 'secret_key_env' or 'sas_token_env'")
        return self


def refuse_sas(credentials: Credentials | None, what: str) -> None:
    """Raise ValueError when *credentials* name a SAS token where *what* takes none."""
    if credentials is not None and credentials.sas_token_env is not None:
        raise ValueError(f"'sas_token_env' is for provider 'azure-blob'; {what} needs "
                         f"'secret_key_env'")
