"""A broken persistent cache never breaks a call; a stored entry of the wrong shape is asked again."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest

import aind_session
from aind_session import Session, codeocean, persistent
from aind_session.persistent import FILE_NAME

MAIN = "ecephys_676909_2023-12-13_13-43-40"
PIPELINE = "1f8f159a-7670-47a9-baf1-078905fc9c2e"


def _fresh(folder):
    """The folder as another process left it: no write-ahead log of ours beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob(FILE_NAME + "*"):
        path.unlink()


def _corrupt(folder):
    _fresh(folder)
    (folder / FILE_NAME).write_bytes(b"this is not a database" * 100)


def _truncated(folder):
    _fresh(folder)
    (folder / FILE_NAME).write_bytes(b"SQLite format 3\x00" + b"\x10\x00" * 10)


def _wrong_schema(folder):
    _fresh(folder)
    with sqlite3.connect(folder / FILE_NAME) as connection:
        connection.execute("CREATE TABLE answers (k TEXT, v BLOB)")


def _folder_is_a_file(folder):
    _fresh(folder)
    folder.rmdir()
    folder.write_text("a file where the folder should be")


def _file_is_a_folder(folder):
    _fresh(folder)
    (folder / FILE_NAME).mkdir()


BREAKAGES = [_corrupt, _truncated, _wrong_schema, _folder_is_a_file, _file_is_a_folder]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__.strip("_"))
def test_every_public_call_answers_with_a_broken_cache_file(
    aind_sandbox, cache_dir, breakage, caplog
):
    aind_session.clear_cache()
    expected = (Session(MAIN).raw_data_dir.as_posix(), Session(MAIN).metadata.subject)
    aind_session.clear_cache()
    breakage(cache_dir)
    with caplog.at_level(logging.WARNING, logger="aind_session"):
        session = Session(MAIN)
        assert (session.raw_data_dir.as_posix(), session.metadata.subject) == expected
        runs = codeocean.refresh_computations(PIPELINE)
        assert runs
        aind_session.clear_cache(persistent=True)
        assert Session(MAIN).raw_data_asset.id
    warnings = [r for r in caplog.records if "persistent cache" in r.getMessage()]
    assert warnings, "the user should be told the cache is unusable"
    # once per clear, not once per answer
    assert len(warnings) <= 2


def test_a_stored_search_of_the_wrong_shape_is_dropped_and_asked_again(aind_sandbox, cache_dir):
    expected = [a.id for a in Session(MAIN).data_assets]
    disk = persistent.get_disk_cache()
    connection = sqlite3.connect(disk.path)
    rows = connection.execute("SELECT key FROM answers").fetchall()
    searches = [key for (key,) in rows if "search_records" in key]
    assert searches
    with connection:
        for key in searches:
            connection.execute(
                "UPDATE answers SET value = ? WHERE key = ?",
                (json.dumps({"message": "upstream request timeout"}), key),
            )
    aind_session.clear_cache()
    aind_sandbox.clear_requests()
    assert [a.id for a in Session(MAIN).data_assets] == expected
    assert aind_sandbox.requests("codeocean"), "the bad entry should have been asked again"
    aind_session.clear_cache()
    aind_sandbox.clear_requests()
    assert [a.id for a in Session(MAIN).data_assets] == expected
    assert not aind_sandbox.requests("codeocean"), "the good answer should now be stored"


@pytest.mark.parametrize(
    ("codec", "bad"),
    [
        (persistent.RECORDS, {"results": []}),
        (persistent.RECORDS, [{"name": "no id"}]),
        (persistent.STRINGS, "output"),
        (persistent.TEXT, ["s3://bucket/x"]),
        (persistent.FLAG, "false"),
        (persistent.PLAIN, {"a": 1}),
        (persistent.SMALL_BYTES, 42),
    ],
)
def test_codecs_refuse_stored_values_of_the_wrong_shape(codec, bad):
    with pytest.raises((TypeError, ValueError, KeyError)):
        codec.decode(bad)
