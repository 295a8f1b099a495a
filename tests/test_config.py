"""Settings: environment, `.env` files, the token and its secrecy."""

from __future__ import annotations

import logging
import os

import pytest

from aind_session import config, errors
from aind_session.config import DEFAULT_DATA_BUCKETS, DEFAULT_DOMAIN, Settings

MARKER = "COP_marker_token_5e1f0c2d9b"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No CodeOcean/aind-session variables, an empty home and working directory."""
    for key, value in list(os.environ.items()):
        if key.startswith(
            ("CODE_OCEAN", "AIND_SESSION_", "AWS_ENDPOINT_URL")
        ) or value.upper().startswith("COP_"):
            monkeypatch.delenv(key)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    config.reset_settings()
    yield home, work
    config.reset_settings()


def test_defaults(clean_env):
    settings = Settings()
    assert settings.codeocean_token is None
    assert settings.codeocean_domain == DEFAULT_DOMAIN
    assert settings.data_buckets == DEFAULT_DATA_BUCKETS
    assert settings.data_buckets[0] == "codeocean-s3datasetsbucket-1u41qdg42ur9"


def test_token_from_code_ocean_api_token(clean_env, monkeypatch):
    monkeypatch.setenv("CODE_OCEAN_API_TOKEN", "COP_from_variable")
    assert Settings().codeocean_token.get_secret_value() == "COP_from_variable"


def test_token_falls_back_to_any_variable_whose_value_starts_with_cop(clean_env, monkeypatch):
    monkeypatch.setenv("MY_CAPSULE_SECRET", "cop_lowercase_value")
    assert Settings().codeocean_token.get_secret_value() == "cop_lowercase_value"


def test_code_ocean_api_token_beats_the_cop_fallback(clean_env, monkeypatch):
    monkeypatch.setenv("MY_CAPSULE_SECRET", "COP_fallback")
    monkeypatch.setenv("CODE_OCEAN_API_TOKEN", "COP_named")
    assert Settings().codeocean_token.get_secret_value() == "COP_named"


def test_domain_from_environment_without_trailing_slash(clean_env, monkeypatch):
    monkeypatch.setenv("CODE_OCEAN_DOMAIN", "https://codeocean.example.org/")
    assert Settings().codeocean_domain == "https://codeocean.example.org"


def test_dotenv_in_current_directory_is_read(clean_env):
    _, work = clean_env
    (work / ".env").write_text("CODE_OCEAN_API_TOKEN=COP_from_cwd\nAIND_SESSION_CACHE_TTL=5\n")
    settings = Settings()
    assert settings.codeocean_token.get_secret_value() == "COP_from_cwd"
    assert settings.cache_ttl == 5


def test_dotenv_in_home_directory_is_read(clean_env):
    home, _ = clean_env
    (home / ".env").write_text("CODE_OCEAN_DOMAIN=https://home.example.org\n")
    assert Settings().codeocean_domain == "https://home.example.org"


def test_current_directory_dotenv_beats_home_dotenv(clean_env):
    home, work = clean_env
    (home / ".env").write_text("CODE_OCEAN_DOMAIN=https://home.example.org\n")
    (work / ".env").write_text("CODE_OCEAN_DOMAIN=https://cwd.example.org\n")
    assert Settings().codeocean_domain == "https://cwd.example.org"


def test_real_environment_beats_dotenv(clean_env, monkeypatch):
    _, work = clean_env
    (work / ".env").write_text("CODE_OCEAN_API_TOKEN=COP_from_file\n")
    monkeypatch.setenv("CODE_OCEAN_API_TOKEN", "COP_from_env")
    assert Settings().codeocean_token.get_secret_value() == "COP_from_env"
    assert os.environ["CODE_OCEAN_API_TOKEN"] == "COP_from_env"


def test_cop_value_in_dotenv_is_a_fallback_token(clean_env):
    _, work = clean_env
    (work / ".env").write_text("SOME_SECRET=COP_in_dotenv\n")
    assert Settings().codeocean_token.get_secret_value() == "COP_in_dotenv"


def test_data_buckets_from_a_comma_separated_variable(clean_env, monkeypatch):
    monkeypatch.setenv("AIND_SESSION_DATA_BUCKETS", "bucket-a, bucket-b")
    assert Settings().data_buckets == ("bucket-a", "bucket-b")


def test_s3_endpoint_from_aws_endpoint_url(clean_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert Settings().s3_endpoint_url == "http://127.0.0.1:9"


def test_invalid_setting_raises_configuration_error_naming_it(clean_env, monkeypatch):
    monkeypatch.setenv("AIND_SESSION_CACHE_TTL", "-3")
    with pytest.raises(errors.ConfigurationError, match="AIND_SESSION_CACHE_TTL"):
        config.get_settings()


def test_invalid_domain_is_refused(clean_env, monkeypatch):
    monkeypatch.setenv("CODE_OCEAN_DOMAIN", "codeocean.example.org")
    with pytest.raises(errors.ConfigurationError, match="http"):
        config.get_settings()


def test_get_settings_is_built_once_until_reset(clean_env, monkeypatch):
    first = config.get_settings()
    monkeypatch.setenv("CODE_OCEAN_DOMAIN", "https://changed.example.org")
    assert config.get_settings() is first
    config.reset_settings()
    assert config.get_settings().codeocean_domain == "https://changed.example.org"


def test_token_never_shows_in_repr_or_str(clean_env, monkeypatch):
    monkeypatch.setenv("CODE_OCEAN_API_TOKEN", MARKER)
    settings = Settings()
    assert MARKER not in repr(settings)
    assert MARKER not in str(settings)
    assert MARKER not in str(settings.model_dump())


def test_token_never_shows_in_logs_while_settings_are_read(clean_env, monkeypatch, caplog):
    monkeypatch.setenv("ANY_NAME", MARKER)
    with caplog.at_level(logging.DEBUG):
        Settings()
    assert caplog.records, "the fallback should log which variable it used"
    assert all(MARKER not in r.getMessage() for r in caplog.records)


def test_missing_token_error_names_the_variables_to_set(clean_env):
    from aind_session import cache, codeocean

    cache.clear_cache()
    with pytest.raises(errors.MissingTokenError) as info:
        codeocean.get_client()
    assert "CODE_OCEAN_API_TOKEN" in str(info.value)
    assert "COP_" in str(info.value)
    assert "Datasets - Read" in str(info.value)


# -- every setting is checked, and a bad one is named with where it came from ---------------
FLOAT_VARIABLES = [
    "AIND_SESSION_CACHE_TTL",
    "AIND_SESSION_CONNECT_TIMEOUT",
    "AIND_SESSION_READ_TIMEOUT",
    "AIND_SESSION_BACKOFF_FACTOR",
    "AIND_SESSION_REQUEST_DEADLINE",
    "AIND_SESSION_CALL_DEADLINE",
    "AIND_SESSION_RETRY_AFTER_MAX",
]


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity"])
@pytest.mark.parametrize("variable", FLOAT_VARIABLES)
def test_a_float_setting_must_be_finite(clean_env, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(errors.ConfigurationError) as info:
        config.get_settings()
    assert variable in str(info.value)
    assert "the environment" in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AIND_SESSION_READ_TIMEOUT", "1e10"),
        ("AIND_SESSION_CONNECT_TIMEOUT", "1e10"),
        ("AIND_SESSION_CALL_DEADLINE", "1e300"),
        ("AIND_SESSION_CACHE_TTL", "1e300"),
        ("AIND_SESSION_MAX_CONCURRENCY", "100000"),
        ("AIND_SESSION_S3_MAX_CONCURRENCY", "100000"),
        ("AIND_SESSION_MAX_RETRIES", "100000"),
        ("AIND_SESSION_BACKOFF_FACTOR", "1e6"),
    ],
)
def test_a_setting_far_beyond_any_sensible_value_is_refused(
    clean_env, monkeypatch, variable, value
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(errors.ConfigurationError, match=variable):
        config.get_settings()


def test_a_bad_setting_in_the_current_directory_dotenv_names_the_file(clean_env):
    _, work = clean_env
    (work / ".env").write_text("AIND_SESSION_READ_TIMEOUT=soon\n")
    with pytest.raises(errors.ConfigurationError) as info:
        config.get_settings()
    message = str(info.value)
    assert "AIND_SESSION_READ_TIMEOUT" in message and str(work / ".env") in message
    assert "'soon'" in message
    assert "the environment" not in message


def test_a_bad_setting_in_the_home_dotenv_names_that_file(clean_env):
    home, work = clean_env
    (home / ".env").write_text("AIND_SESSION_MAX_PAGES=0\n")
    (work / ".env").write_text("AIND_SESSION_CACHE_TTL=5\n")
    with pytest.raises(errors.ConfigurationError) as info:
        config.get_settings()
    assert "AIND_SESSION_MAX_PAGES" in str(info.value)
    assert str(home / ".env") in str(info.value)
    assert str(work / ".env") not in str(info.value)


def test_a_bad_setting_names_the_environment_when_it_beats_a_dotenv(clean_env, monkeypatch):
    _, work = clean_env
    (work / ".env").write_text("AIND_SESSION_CONNECT_TIMEOUT=3\n")
    monkeypatch.setenv("AIND_SESSION_CONNECT_TIMEOUT", "-1")
    with pytest.raises(errors.ConfigurationError) as info:
        config.get_settings()
    assert "AIND_SESSION_CONNECT_TIMEOUT='-1' (from the environment)" in str(info.value)


def test_a_bad_aliased_setting_is_named_by_its_variable(clean_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "localhost:9000")
    with pytest.raises(errors.ConfigurationError) as info:
        config.get_settings()
    assert "AWS_ENDPOINT_URL='localhost:9000' (from the environment)" in str(info.value)


def test_settings_built_directly_raise_configuration_error_not_a_validation_error(
    clean_env, monkeypatch
):
    monkeypatch.setenv("AIND_SESSION_MAX_RETRIES", "many")
    with pytest.raises(errors.ConfigurationError, match="AIND_SESSION_MAX_RETRIES"):
        Settings()


def test_a_token_pasted_into_another_setting_is_not_shown(clean_env, monkeypatch):
    monkeypatch.setenv("CODE_OCEAN_API_TOKEN", MARKER)
    monkeypatch.setenv("AIND_SESSION_CACHE_TTL", MARKER)
    with pytest.raises(errors.ConfigurationError) as info:
        config.get_settings()
    assert "AIND_SESSION_CACHE_TTL" in str(info.value)
    assert MARKER not in str(info.value) and MARKER[4:] not in str(info.value)


@pytest.mark.parametrize(
    "variable", ["AIND_SESSION_SORTING_PIPELINE_ID", "AIND_SESSION_SORTING_TRIGGER_CAPSULE_ID"]
)
def test_capsule_and_pipeline_ids_must_be_uuids(clean_env, monkeypatch, variable):
    monkeypatch.setenv(variable, "my-pipeline")
    with pytest.raises(errors.ConfigurationError, match=f"{variable}='my-pipeline'"):
        config.get_settings()


def test_capsule_ids_are_normalized(clean_env, monkeypatch):
    monkeypatch.setenv("AIND_SESSION_SORTING_PIPELINE_ID", " 1F8F159A767047A9BAF1078905FC9C2E ")
    assert Settings().sorting_pipeline_id == "1f8f159a-7670-47a9-baf1-078905fc9c2e"


@pytest.mark.parametrize("buckets", ["aind ephys data", "s3://aind-ephys-data", "AIND_DATA", "ab"])
def test_data_buckets_must_be_bucket_names(clean_env, monkeypatch, buckets):
    monkeypatch.setenv("AIND_SESSION_DATA_BUCKETS", f"aind-open-data,{buckets}")
    with pytest.raises(errors.ConfigurationError, match="AIND_SESSION_DATA_BUCKETS"):
        config.get_settings()


def test_empty_optional_settings_mean_unset(clean_env):
    _, work = clean_env
    (work / ".env").write_text("AIND_SESSION_CACHE_DIR=\nAWS_ENDPOINT_URL=\n")
    settings = Settings()
    assert settings.cache_dir is None and settings.s3_endpoint_url is None


def test_an_empty_token_means_unset_so_the_cop_fallback_is_used(clean_env, monkeypatch):
    _, work = clean_env
    (work / ".env").write_text("CODE_OCEAN_API_TOKEN=\n")  # as copied from .env.example
    assert Settings().codeocean_token is None
    monkeypatch.setenv("CAPSULE_SECRET", "COP_fallback")
    assert Settings().codeocean_token.get_secret_value() == "COP_fallback"


def test_timezone_defaults_to_seattle(clean_env):
    assert Settings().timezone == "America/Los_Angeles"


def test_an_unknown_timezone_in_a_dotenv_names_the_variable_and_file(clean_env):
    _, work = clean_env
    (work / ".env").write_text("AIND_SESSION_TIMEZONE=Pacific Time\n")
    with pytest.raises(errors.ConfigurationError) as info:
        config.get_settings()
    assert "AIND_SESSION_TIMEZONE='Pacific Time'" in str(info.value)
    assert str(work / ".env") in str(info.value)
    assert "America/Los_Angeles" in str(info.value)  # says what to write


def test_a_dotenv_that_is_not_utf8_is_named_and_its_bytes_are_not_shown(clean_env):
    _, work = clean_env
    (work / ".env").write_bytes(b"CODE_OCEAN_API_TOKEN=" + MARKER.encode() + b"\x93\n")
    with pytest.raises(errors.ConfigurationError) as info:
        config.get_settings()
    assert str(work / ".env") in str(info.value)
    assert MARKER not in str(info.value) and MARKER not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_env_example_lists_every_setting_and_reads_without_error(clean_env):
    import pathlib
    import shutil

    from dotenv import dotenv_values

    example = pathlib.Path(__file__).parent.parent / ".env.example"
    text = example.read_text()
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = alias.choices if alias is not None else [f"AIND_SESSION_{field.upper()}"]
        assert any(f"{name}=" in text for name in names), field
    _, work = clean_env
    shutil.copy(example, work / ".env")
    settings = Settings()
    assert settings.codeocean_token is None  # the empty token means unset
    assert settings.timezone == dotenv_values(example)["AIND_SESSION_TIMEZONE"]
