"""Property: whatever a spec file holds, loading it ends in a spec or one SpecError."""

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exitkit.drill.spec_file import load_spec
from exitkit.errors import SpecError

FIELDS = ["version", "name", "description", "source", "target", "options", "expectations",
          "verification", "cost", "projection", "provider", "endpoint", "region", "bucket",
          "prefix", "path", "credentials", "access_key_env", "secret_key_env", "concurrency",
          "part_size", "completeness", "max_duration", "max_cost", "sample", "fraction",
          "count", "seed", "versions", "create_bucket", "hosts", "keep_days", "bogus"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12),
                    st.floats(allow_nan=True), st.sampled_from(
                        ["aws-s3", "local", "seaweedfs", "100%", "10m", "8MiB", "all", "latest",
                         "${MISSING}", "${HOME}", "SRC_KEY", "", "-1", "1e309"]),
                    st.text(max_size=12))
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(FIELDS), inner, max_size=6)), max_leaves=30)
ENV = {"SRC_KEY": "key-value-1", "HOME": "/root"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(st.sampled_from(FIELDS), DOCUMENTS, max_size=8))
def test_generated_specs_never_escape_as_other_exceptions(tmp_path, document):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    try:
        load_spec(path, ENV)
    except SpecError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_arbitrary_text_never_escapes_as_other_exceptions(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_spec(path, ENV)
    except SpecError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)
