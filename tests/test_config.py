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
    with pytest.raises(errors.ConfigurationError, match="cache_ttl"):
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
