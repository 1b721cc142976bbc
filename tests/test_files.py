"""Only regular files are read, never without limit; folder walks skip loops (issue 11).

Every test runs under a guard (tests/guards.py): a regression fails with TimeoutError or a
MemoryError in a child process instead of hanging CI or eating the machine's memory.
"""

from __future__ import annotations

import os
import socket

import pytest

from app.core import errors
from app.core.files import (
    MAX_READ_BYTES,
    SpecialFileError,
    open_regular,
    read_capped,
    walk_images,
)
from app.core.images import load_image
from tests.conftest import save_rgb
from tests.guards import load_in_child, no_hang


def _one_line_error(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text.strip() == text and text
    return text


@pytest.mark.parametrize("name,shown", [("photo.jpg", "photo.jpg"),
                                        ("two\nlines.jpg", "two\\nlines.jpg")])
def test_fifo_given_by_name_is_refused_without_blocking(tmp_path, name, shown):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    with no_hang(5, fifos=(fifo,)):
        with pytest.raises(SpecialFileError) as info:
            load_image(fifo)
    assert "named pipe (FIFO)" in _one_line_error(info.value)  # one line, even for a newline
    assert shown in str(info.value)
    assert isinstance(info.value, errors.ImageLoadError)  # front ends show it as a bad file


def test_fifo_swapped_in_after_the_check_is_caught_by_fstat(tmp_path, monkeypatch):
    """The second guard: the name passed the type check, then became a pipe before open()."""
    import app.core.files as files

    fifo = tmp_path / "race.jpg"
    os.mkfifo(fifo)
    monkeypatch.setattr(files, "check_regular", lambda path: None)  # the check "passed"
    with no_hang(5, fifos=(fifo,)):
        with pytest.raises(SpecialFileError, match="named pipe"):
            open_regular(fifo)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_link_to_an_endless_device_is_refused(tmp_path, device):
    if not os.path.exists(device):
        pytest.skip(f"{device} not on this system")
    link = tmp_path / "photo.jpg"
    link.symlink_to(device)
    # In a child process with a heap limit: a regression ends in MemoryError there.
    got = load_in_child(link, timeout=60)
    assert not got["ok"] and got["type"] == "SpecialFileError", got
    assert "a device" in got["error"] and "\n" not in got["error"]


def test_dangling_link_and_link_loop(tmp_path):
    dangling = tmp_path / "gone.jpg"
    dangling.symlink_to(tmp_path / "deleted-long-ago.jpg")
    loop_a, loop_b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    with no_hang(5):
        with pytest.raises(SpecialFileError) as d:
            load_image(dangling)
        with pytest.raises(SpecialFileError) as lp:
            load_image(loop_a)
    assert "dangling link" in _one_line_error(d.value)
    assert "deleted-long-ago.jpg" in str(d.value)  # where it pointed
    assert "loop" in _one_line_error(lp.value)


def test_socket_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative name: socket paths are limited to ~100 bytes
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind("sock.png")
        with no_hang(5):
            with pytest.raises(SpecialFileError) as info:
                load_image("sock.png")
    finally:
        server.close()
    assert "socket" in _one_line_error(info.value)


def test_folder_given_as_a_file(tmp_path):
    with pytest.raises(SpecialFileError, match="folder"):
        load_image(tmp_path)


def test_byte_cap_is_checked_before_and_while_reading(tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * 5000)
    with pytest.raises(errors.ImageTooLargeError, match="refused"):
        read_capped(big, cap=4096)  # st_size says too large: nothing read
    assert read_capped(big, cap=5000) == b"\xff" * 5000
    # /proc files are regular but report size 0: only the cap while reading stops them.
    proc = "/proc/self/status"
    if os.path.exists(proc) and os.stat(proc).st_size == 0:
        with pytest.raises(errors.ImageTooLargeError):
            read_capped(proc, cap=64)


def test_the_cap_is_512_mb_and_stated():
    assert MAX_READ_BYTES == 512 * 1024 * 1024
    from app.core.files import _too_large

    assert "files over 512 MB are refused" in str(_too_large(600 * 1024 * 1024, MAX_READ_BYTES))


def _hostile_folder(tmp_path, astronaut):
    top = tmp_path / "in"
    sub = top / "sub"
    sub.mkdir(parents=True)
    save_rgb(top / "a_good.jpg", astronaut)
    save_rgb(sub / "z_good.png", astronaut)
    os.mkfifo(top / "b_fifo.jpg")
    (top / "c_zero.jpg").symlink_to("/dev/zero")
    (top / "d_dangling.jpg").symlink_to(top / "nowhere.jpg")
    (top / "e_loop.jpg").symlink_to(top / "e_loop.jpg")
    (sub / "back").symlink_to(top)  # a folder link leading back up: a loop
    (sub / "self").symlink_to(sub)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    save_rgb(outside / "linked.jpg", astronaut)
    (top / "f_linked_dir").symlink_to(outside)  # an ordinary folder link: followed
    return top


def test_walk_keeps_special_image_entries_and_skips_folder_loops(tmp_path, astronaut):
    top = _hostile_folder(tmp_path, astronaut)
    with no_hang(10, fifos=(top / "b_fifo.jpg",)):
        walk = walk_images([top])
    names = [os.path.relpath(f, top) for f in walk.files]
    assert names == ["a_good.jpg", "b_fifo.jpg", "c_zero.jpg", "d_dangling.jpg", "e_loop.jpg",
                     os.path.join("f_linked_dir", "linked.jpg"), os.path.join("sub", "z_good.png")]
    skipped = {os.path.relpath(p, top) for p, _ in walk.skipped}
    assert skipped == {os.path.join("sub", "back"), os.path.join("sub", "self")}
    assert all("loop" in why for _, why in walk.skipped)


def test_batch_over_a_hostile_folder_scores_the_good_photos(tmp_path, astronaut, analyzer):
    """The issue's reproduction: good photos before and after a FIFO, a /dev/zero link, a
    dangling link and a loop; two workers, as the CLI runs by default."""
    from app.core.batch import run_batch

    top = _hostile_folder(tmp_path, astronaut)
    items = []
    with no_hang(120, fifos=(top / "b_fifo.jpg",)):
        summary = run_batch(analyzer, [top], on_result=items.append, workers=2)
    assert summary.done == summary.total == 7 and not summary.cancelled
    by_name = {os.path.basename(i.path): i.result for i in items}
    for good in ("a_good.jpg", "z_good.png", "linked.jpg"):
        assert by_name[good].status == "ok", by_name[good].error
    for bad, words in (("b_fifo.jpg", "named pipe"), ("c_zero.jpg", "a device"),
                       ("d_dangling.jpg", "dangling link"), ("e_loop.jpg", "loop")):
        r = by_name[bad]
        assert r.status == "error" and r.error_type == "SpecialFileError", (bad, r.error)
        assert words in r.error and "\n" not in r.error
