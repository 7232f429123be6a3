"""The naming of saved outputs, in memory: `_filenames` is pure (the disk side is tested over
real sockets in test_downloads.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skytells import SkytellsError
from skytells._core.filenames import (
    MAX_NAME_LENGTH,
    Layout,
    extension_for,
    id_part,
    is_safe_name,
    name_from_url,
    reduce_name,
)
from skytells._core.saving import plan_names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("img.png", "img.png"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", "fallback"),
        (".", "fallback"),
        ("", "fallback"),
        (".bashrc", "bashrc"),
        ("a\x00b.png", "a_b.png"),
        ("\u202egnp.exe", "_gnp.exe"),
        ("name. ", "name._"),
        ("trailing.", "trailing"),
        ("C:\\x\\y.png", "C_x_y.png"),
        ("a b\tc\nd.webp", "a_b_c_d.webp"),
    ],
)
def test_reduce_name(raw: str, expected: str) -> None:
    name = reduce_name(raw, "fallback")
    assert name == expected and is_safe_name(name)


def test_long_names_are_bounded_and_keep_their_extension() -> None:
    name = reduce_name("n" * 10_000 + ".png", "x")
    assert len(name) == MAX_NAME_LENGTH and name.endswith(".png")
    assert len(reduce_name("n" * 10_000, "x")) == MAX_NAME_LENGTH


def test_names_from_urls() -> None:
    assert name_from_url("https://cdn.example/a/b/out-0.png?sig=..%2F", 0) == "out-0.png"
    assert name_from_url("https://cdn.example/a/..%2F..%2Fx.png", 1) == "x.png"
    assert name_from_url("https://cdn.example/a/%2e%2e", 2) == "output-2"
    assert name_from_url("https://cdn.example/", 3) == "output-3"
    assert name_from_url("http://[bad", 4) == "output-4"  # unparseable: no ValueError


@pytest.mark.parametrize("bad", ["../../..", "/abs/path", "a/b", "..", ".x", "x.", "a\x00", ""])
def test_unsafe_ids_are_refused(bad: str) -> None:
    with pytest.raises(SkytellsError) as info:
        id_part(bad)
    assert info.value.error_id == "UNSAFE_OUTPUT_NAME"


def test_ids_are_used_whole() -> None:
    uuid = "1473e3d3-d96c-4f33-bc7b-a2ba09cd3842"
    assert id_part(uuid) == uuid and id_part(None) == "prediction"
    with pytest.raises(SkytellsError):
        id_part("a" * 101)


def test_extensions_come_only_from_known_clean_types() -> None:
    assert extension_for("image/png; charset=binary") == ".png"
    assert extension_for("IMAGE/JPEG") == ".jpg"
    assert extension_for("image/png/../../x") == ""
    assert extension_for("x" * 500 + "/png") == ""
    assert extension_for("application/x-unknown-thing") == ""


def test_layout_names_are_unique_in_a_call_case_insensitively() -> None:
    layout = Layout(Path("/out"), True, "p", 4)
    assert layout.plan(0, "img.png") == Path("/out/p-img.png")
    assert layout.plan(1, "img.png") == Path("/out/p-img-1.png")
    assert layout.plan(2, "IMG.png") == Path("/out/p-IMG-2.png")
    assert layout.plan(3, "img") == Path("/out/p-img")
    # The extension from the content type may clash with a name taken already.
    assert layout.final(3, "image/png") == Path("/out/p-img-3.png")
    assert layout.final(3, "image/png") == Path("/out/p-img-3.png")  # a retry keeps its name


@pytest.mark.parametrize("shared", [True, False], ids=["one-name", "distinct-names"])
def test_naming_many_outputs_tries_a_bounded_number_of_names_each(shared: bool) -> None:
    # A hostile prediction may list tens of thousands of outputs: each reservation must cost
    # about the same however many came before (it once rebuilt the set of names taken each
    # time, and counted -1, -2... from 1 again: quadratic, a minute for 16,000 outputs).
    count = 20_000
    layout = Layout(Path("/out"), True, "p", count)
    suggested = [("x.png" if shared else f"{i}.png") for i in range(count)]
    plan_names(layout, [f"https://h/{name}" for name in suggested], list(range(count)))
    names = [layout.final(i, "image/png").name for i in range(count)]
    assert len({name.casefold() for name in names}) == count
    assert names[:3] == (
        ["p-x.png", "p-x-1.png", "p-x-2.png"] if shared else ["p-0.png", "p-1.png", "p-2.png"]
    )
    assert names[-1] == ("p-x-19999.png" if shared else "p-19999.png")
    assert layout.probes <= 3 * 2 * count  # plan and final: a few names tried each


def test_numbered_names_skip_names_taken_by_other_outputs() -> None:
    layout = Layout(Path("/out"), True, "p", 5)
    planned = [layout.plan(i, name).name for i, name in enumerate(["a-1", "a", "a", "A-2", "a"])]
    assert planned == ["p-a-1", "p-a", "p-a-2", "p-A-2-1", "p-a-3"]


def test_a_file_target_names_the_files() -> None:
    single = Layout(Path("/out/song.wav"), False, "../../..", 1)
    assert single.plan(0, "whatever.mp3") == Path("/out/song.wav")  # the id is not used
    many = Layout(Path("/out/a.png"), False, "p", 2)
    assert [many.plan(i, "x.png") for i in range(2)] == [Path("/out/a-0.png"), Path("/out/a-1.png")]
