"""The S3 layer: fetching at once, and what a batch remembers."""

from __future__ import annotations

from aind_session import s3
from aind_session.testing import Sandbox

EMPTY = "s3://aind-ephys-data/no-such-session"
MISSING = "s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40/no-such-file.json"


def test_an_empty_folder_and_a_missing_file_are_asked_again_outside_a_batch(
    aind_sandbox: Sandbox,
) -> None:
    for _ in range(2):
        listings, reads = s3.fetch([EMPTY], [MISSING])
        assert not listings[EMPTY.removeprefix("s3://")].exists
        assert isinstance(reads[MISSING.removeprefix("s3://")], FileNotFoundError)
    assert len(aind_sandbox.requests("s3")) == 4  # they may appear at any time


def test_inside_a_batch_an_empty_folder_and_a_missing_file_are_asked_once(
    aind_sandbox: Sandbox,
) -> None:
    with s3.batch():
        for _ in range(3):
            listings, reads = s3.fetch([EMPTY], [MISSING])
            assert not listings[EMPTY.removeprefix("s3://")].exists
            assert isinstance(reads[MISSING.removeprefix("s3://")], FileNotFoundError)
        with s3.batch():  # a nested block keeps the outer one's memory
            s3.fetch([EMPTY], [MISSING])
    assert len(aind_sandbox.requests("s3")) == 2
    s3.fetch([EMPTY])  # the block is over
    assert len(aind_sandbox.requests("s3")) == 3


def test_the_same_folder_named_two_ways_is_listed_once(aind_sandbox: Sandbox) -> None:
    folder = "aind-ephys-data/ecephys_676909_2023-12-13_13-43-40"
    listings, _ = s3.fetch([f"s3://{folder}", f"{folder}/"])
    assert list(listings) == [folder]
    assert listings[folder].exists
    assert len(aind_sandbox.requests("s3")) == 1
