"""Building blocks every part of a drill spec shares: the strict base model, credentials
by variable name, and the unit-parsing field types."""

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from exitkit.drill.units import parse_duration, parse_eur, parse_percent, parse_size

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

Size = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Percent = Annotated[float, BeforeValidator(parse_percent)]
Euros = Annotated[float, BeforeValidator(parse_eur)]


class Strict(BaseModel):
    """Base for spec models: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Credentials(Strict):
    """Names of the environment variables that hold the keys; never the keys themselves."""

    access_key_env: str = Field(pattern=ENV_NAME)
    secret_key_env: str = Field(pattern=ENV_NAME)
