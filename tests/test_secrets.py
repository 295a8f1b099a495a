"""The token never appears in a repr, a log line, an exception, CLI output or --json."""

from __future__ import annotations

import logging

import pytest

import aind_session
from aind_session import Session, cli, errors

MARKER = "COP_marker_9f8e7d6c5b4a39281706"
MAIN = "ecephys_676909_2023-12-13_13-43-40"


@pytest.fixture
def marker_token(aind_sandbox, monkeypatch, aind_settings):
    """The sandbox and the library both use the marker as the token."""
    monkeypatch.setattr(aind_sandbox.codeocean, "token", MARKER)
    aind_settings.set(CODE_OCEAN_API_TOKEN=MARKER)
    return aind_sandbox


def everything_said(caplog, capsys, extra=()):
    records = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    out = capsys.readouterr()
    return "\n".join([records, out.out, out.err, *extra])


def test_marker_is_never_logged_printed_or_raised(marker_token, caplog, capsys):
    said = []
    with caplog.at_level(logging.DEBUG):
        session = Session(MAIN)
        said += [
            repr(session),
            repr(aind_session.get_settings()),
            str(aind_session.get_settings().model_dump()),
        ]
        session.describe()
        for args in (
            ["info", MAIN],
            ["info", MAIN, "--json", "-v"],
            ["sessions", "676909", "--json"],
            ["assets", MAIN],
        ):
            assert cli.main(args) == 0
        for call in (
            lambda: session.ecephys.sorted_data_asset,
            lambda: Session("ecephys_600000_2024-01-01_00-00-00").raw_data_asset,
            lambda: session.metadata.nope,
        ):
            try:
                call()
            except Exception as exc:
                said += [str(exc), repr(exc)]
    assert MARKER not in everything_said(caplog, capsys, said)


def test_marker_is_never_in_a_refused_token_error(marker_token, monkeypatch, caplog, capsys):
    monkeypatch.setattr(marker_token.codeocean, "token", "COP_the_real_one")
    aind_session.clear_cache()
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(errors.AuthenticationError) as info:
            Session(MAIN).raw_data_asset
        assert cli.main(["info", MAIN, "--debug"]) == 1
    said = everything_said(
        caplog, capsys, [str(info.value), repr(info.value), str(info.value.__cause__)]
    )
    assert "Datasets - Read" in said
    assert MARKER not in said


def test_sandbox_request_log_holds_no_token(marker_token):
    Session(MAIN).raw_data_asset
    assert marker_token.requests()
    assert all(MARKER not in repr(r) for r in marker_token.requests())


def test_dotenv_never_overrides_the_real_environment(marker_token, monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("CODE_OCEAN_API_TOKEN=COP_from_dotenv\n")
    monkeypatch.chdir(tmp_path)
    aind_session.clear_cache()
    assert aind_session.get_settings().codeocean_token.get_secret_value() == MARKER


def test_client_repr_holds_no_token(marker_token):
    from aind_session import codeocean

    client = codeocean.get_client()
    assert MARKER not in repr(client) and MARKER not in str(client)
    assert MARKER not in repr(codeocean.get_client(for_runs=True))


# -- a token that cannot be sent is refused before any request, without showing it ------------
TOKEN_BODY = "9f8e7d6c5b4a39281706"


def holds_part_of(text: str, token: str) -> bool:
    """Whether ``text`` holds any 5 characters of ``token`` in a row."""
    return any(token[i : i + 5] in text for i in range(len(token) - 4))


@pytest.fixture
def isolated(aind_sandbox, monkeypatch, tmp_path, aind_settings):
    """The sandbox, with an empty home and working directory for `.env` files."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    aind_settings.set(HOME=str(home))
    return aind_sandbox, home, work


@pytest.mark.parametrize(
    ("token", "position"),
    [
        (f"COP_{TOKEN_BODY}\u201d", 25),  # a pasted curly quote
        (f"\u201cCOP_{TOKEN_BODY}", 1),
        (f"COP_{TOKEN_BODY[:8]}\u0416{TOKEN_BODY[8:]}", 13),  # not Latin-1
        (f"COP_{TOKEN_BODY[:8]}\u00e9{TOKEN_BODY[8:]}", 13),  # Latin-1, not ASCII
        (f"COP_{TOKEN_BODY[:8]} {TOKEN_BODY[8:]}", 13),
        (f"COP_{TOKEN_BODY[:8]}\t{TOKEN_BODY[8:]}", 13),
        (f"COP_{TOKEN_BODY[:8]}\x07{TOKEN_BODY[8:]}", 13),
        (f"COP_{TOKEN_BODY[:8]}\u00a0{TOKEN_BODY[8:]}", 13),
    ],
    ids=[
        "curly-quote-after",
        "curly-quote-before",
        "cyrillic",
        "latin-1",
        "space",
        "tab",
        "bell",
        "nbsp",
    ],
)
def test_a_token_that_cannot_be_sent_is_refused_before_any_request(
    isolated, monkeypatch, token, position
):
    sandbox, _, _ = isolated
    monkeypatch.setenv("CODE_OCEAN_API_TOKEN", token)
    aind_session.clear_cache()
    with pytest.raises(errors.ConfigurationError) as info:
        Session(MAIN).raw_data_asset
    said = f"{info.value} {info.value!r} {info.value.__cause__!r} {info.value.__context__!r}"
    assert not holds_part_of(said, token)
    assert "CODE_OCEAN_API_TOKEN" in said and "the environment" in said
    assert f"character {position}" in said
    assert sandbox.requests() == []


def test_a_bad_token_in_a_dotenv_names_the_file_and_position(isolated, monkeypatch):
    _, _, work = isolated
    monkeypatch.delenv("CODE_OCEAN_API_TOKEN")
    token = f"COP_{TOKEN_BODY}\x00x"
    (work / ".env").write_text(f"CODE_OCEAN_API_TOKEN={token}\n")
    with pytest.raises(errors.ConfigurationError) as info:
        aind_session.get_settings()
    assert str(work / ".env") in str(info.value)
    assert "character 25" in str(info.value)
    assert not holds_part_of(str(info.value), token)


def test_a_bad_cop_fallback_token_names_its_variable(isolated, monkeypatch):
    monkeypatch.delenv("CODE_OCEAN_API_TOKEN")
    monkeypatch.setenv("MY_CAPSULE_SECRET", f"COP_{TOKEN_BODY} x")
    with pytest.raises(errors.ConfigurationError) as info:
        aind_session.get_settings()
    assert "MY_CAPSULE_SECRET" in str(info.value)
    assert not holds_part_of(str(info.value), f"COP_{TOKEN_BODY} x")


def test_whitespace_around_a_pasted_token_is_removed_silently(isolated, monkeypatch):
    sandbox, _, _ = isolated
    monkeypatch.setenv("CODE_OCEAN_API_TOKEN", f"  {sandbox.token}\r\n")
    aind_session.clear_cache()
    assert aind_session.get_settings().codeocean_token.get_secret_value() == sandbox.token
    assert Session(MAIN).raw_data_asset.id == "16d46411-540a-4122-b47f-8cb2a15d593a"


# -- the token goes only where the same source (or the environment) says ----------------------
def test_a_dotenv_domain_never_receives_the_environment_token(isolated, monkeypatch):
    sandbox, _, work = isolated
    monkeypatch.delenv("CODE_OCEAN_DOMAIN")
    (work / ".env").write_text(f"CODE_OCEAN_DOMAIN={sandbox.codeocean_url}\n")
    aind_session.clear_cache()
    with pytest.raises(errors.ConfigurationError) as info:
        Session(MAIN).raw_data_asset
    message = str(info.value)
    assert "CODE_OCEAN_DOMAIN" in message and str(work / ".env") in message
    assert "CODE_OCEAN_API_TOKEN" in message and "the environment" in message
    assert not holds_part_of(message, sandbox.token)
    assert sandbox.requests("codeocean") == []


def test_a_dotenv_domain_is_used_with_a_token_from_the_same_file(isolated, monkeypatch):
    sandbox, _, work = isolated
    monkeypatch.delenv("CODE_OCEAN_DOMAIN")
    monkeypatch.delenv("CODE_OCEAN_API_TOKEN")
    (work / ".env").write_text(
        f"CODE_OCEAN_DOMAIN={sandbox.codeocean_url}\nCODE_OCEAN_API_TOKEN={sandbox.token}\n"
    )
    aind_session.clear_cache()
    assert Session(MAIN).raw_data_asset.id == "16d46411-540a-4122-b47f-8cb2a15d593a"


def test_a_cop_fallback_counts_with_the_file_it_was_found_in(isolated, monkeypatch):
    sandbox, _, work = isolated
    monkeypatch.delenv("CODE_OCEAN_DOMAIN")
    monkeypatch.delenv("CODE_OCEAN_API_TOKEN")
    (work / ".env").write_text(f"CODE_OCEAN_DOMAIN={sandbox.codeocean_url}\nX={sandbox.token}\n")
    aind_session.clear_cache()
    assert aind_session.get_settings().codeocean_domain == sandbox.codeocean_url
    monkeypatch.setenv("CAPSULE_SECRET", sandbox.token)  # now the environment's token is used
    aind_session.clear_cache()
    with pytest.raises(errors.ConfigurationError, match="CAPSULE_SECRET"):
        aind_session.get_settings()


def test_a_domain_in_one_dotenv_never_receives_a_token_from_the_other(isolated, monkeypatch):
    sandbox, home, work = isolated
    monkeypatch.delenv("CODE_OCEAN_DOMAIN")
    monkeypatch.delenv("CODE_OCEAN_API_TOKEN")
    (home / ".env").write_text(f"CODE_OCEAN_API_TOKEN={sandbox.token}\n")
    (work / ".env").write_text("CODE_OCEAN_DOMAIN=https://codeocean.example.org\n")
    aind_session.clear_cache()
    with pytest.raises(errors.ConfigurationError) as info:
        aind_session.get_settings()
    assert str(work / ".env") in str(info.value) and str(home / ".env") in str(info.value)
    (home / ".env").write_text("CODE_OCEAN_DOMAIN=https://codeocean.example.org\n")
    (work / ".env").write_text(f"CODE_OCEAN_API_TOKEN={sandbox.token}\n")
    aind_session.clear_cache()
    with pytest.raises(errors.ConfigurationError):
        aind_session.get_settings()


def test_a_dotenv_may_name_the_default_domain(isolated, monkeypatch):
    _, _, work = isolated
    monkeypatch.delenv("CODE_OCEAN_DOMAIN")
    (work / ".env").write_text("CODE_OCEAN_DOMAIN=https://codeocean.allenneuraldynamics.org/\n")
    aind_session.clear_cache()
    assert (
        aind_session.get_settings().codeocean_domain == "https://codeocean.allenneuraldynamics.org"
    )


@pytest.mark.parametrize(
    "domain",
    ["http://codeocean.example.org", "http://10.0.0.1:8080", "http://127.0.0.1.example.org"],
)
def test_the_token_is_never_sent_over_plain_http_off_this_machine(isolated, monkeypatch, domain):
    monkeypatch.setenv("CODE_OCEAN_DOMAIN", domain)
    aind_session.clear_cache()
    with pytest.raises(errors.ConfigurationError) as info:
        aind_session.get_settings()
    assert "CODE_OCEAN_DOMAIN" in str(info.value) and "https://" in str(info.value)


@pytest.mark.parametrize(
    "domain", ["http://127.0.0.1:9", "http://127.8.9.10", "http://localhost:8080", "http://[::1]:9"]
)
def test_plain_http_to_a_loopback_address_is_allowed(isolated, monkeypatch, domain):
    monkeypatch.setenv("CODE_OCEAN_DOMAIN", domain)
    aind_session.clear_cache()
    assert aind_session.get_settings().codeocean_domain == domain


def test_an_s3_endpoint_from_a_dotenv_file_is_refused(tmp_path, monkeypatch):
    from aind_session import config

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    (tmp_path / ".env").write_text("AWS_ENDPOINT_URL=https://attacker.example:9000\n")
    config.reset_settings()
    with pytest.raises(errors.ConfigurationError, match="AWS_ENDPOINT_URL") as info:
        config.get_settings()
    assert ".env" in str(info.value)
    config.reset_settings()


def test_an_s3_endpoint_over_plain_http_off_this_machine_is_refused(monkeypatch):
    from aind_session import config

    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio.example:9000")
    config.reset_settings()
    with pytest.raises(errors.ConfigurationError, match="plain http"):
        config.get_settings()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    config.reset_settings()
    assert config.get_settings().s3_endpoint_url == "http://127.0.0.1:9000"
    config.reset_settings()
