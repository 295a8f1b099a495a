"""The token never appears in a repr, a log line, an exception, CLI output or --json."""

from __future__ import annotations

import logging

import pytest

import aind_session
from aind_session import Session, cli, errors

MARKER = "COP_marker_9f8e7d6c5b4a39281706"
MAIN = "ecephys_676909_2023-12-13_13-43-40"


@pytest.fixture
def marker_token(aind_sandbox, monkeypatch):
    """The sandbox and the library both use the marker as the token."""
    monkeypatch.setattr(aind_sandbox.codeocean, "token", MARKER)
    monkeypatch.setenv("CODE_OCEAN_API_TOKEN", MARKER)
    aind_session.clear_cache()
    yield aind_sandbox
    aind_session.clear_cache()


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
