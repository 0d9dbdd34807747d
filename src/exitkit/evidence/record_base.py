"""The base of every record part, in a module of its own so that the parts can live in
separate modules without import cycles."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Base for record parts: unknown fields are rejected when a record is read back."""

    model_config = ConfigDict(defer_build=True, extra="forbid")
