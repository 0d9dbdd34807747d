"""The ``vms`` section of a drill spec: which EC2 instances to plan, and for which target.

A leaf module (pydantic only), so that ``drill/spec.py`` can import it without a cycle.
The plan itself is made by :mod:`exitkit.drill.vm_plan`.
"""

from typing import Literal

from pydantic import Field, model_validator

from exitkit.drill.spec_base import Credentials, Strict, refuse_sas


class VmSource(Strict):
    """Where the VMs run: an EC2 endpoint and region, credentials by variable name."""

    provider: Literal["aws-ec2"]
    endpoint: str | None = Field(default=None, description="URL; default "
                                 "https://ec2.{region}.amazonaws.com")
    region: str = Field(min_length=1)
    credentials: Credentials
    catalog: str | None = Field(default=None, description="catalog entry for source prices; "
                                "default: the AWS entry for the region")

    @model_validator(mode="after")
    def _no_sas(self) -> "VmSource":
        refuse_sas(self.credentials, "aws-ec2")
        return self


class VmSection(Strict):
    """The ``vms`` section of a drill: which instances to plan, and for which target."""

    source: VmSource
    target_catalog: str = Field(min_length=1, description="catalog entry whose compute "
                                                          "sizes the VMs are matched to")
    filters: dict[str, str | list[str]] = Field(
        default_factory=dict, description="EC2 DescribeInstances filters, e.g. tag:Env: prod")
