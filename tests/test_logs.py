"""The per-user log shared by window and CLI; messages name where the details went."""

from __future__ import annotations

import logging

from app.core.logs import cli_logging, details_location


def test_details_location_follows_the_set_up(tmp_path, monkeypatch):
    monkeypatch.setenv("DFI_DATA_DIR", str(tmp_path / "data"))
    before = details_location()
    with cli_logging(verbose=False) as path:
        assert path == tmp_path / "data" / "logs" / "inspector.log"
        assert details_location() == f"{path} (or run with --verbose to print them)"
        logging.getLogger("app.test").error("boom")
    assert "boom" in path.read_text(encoding="utf-8")
    with cli_logging(verbose=True) as path:
        assert details_location() == f"{path}, and printed on the error output (stderr)"
    assert details_location() == before  # undone after the run: a second run starts clean
    assert not [h for h in logging.getLogger().handlers if getattr(h, "_dfi", False)]


def test_an_unwritable_log_folder_falls_back_to_stderr(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("DFI_DATA_DIR", str(blocker / "data"))
    with cli_logging(verbose=False) as path:
        assert path is None
        assert details_location() == "the error output (stderr)"
        logging.getLogger("app.test").error("still visible")
    err = capsys.readouterr().err
    assert "warning: no log file" in err and "still visible" in err
