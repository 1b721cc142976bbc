"""`python -m app forensics`: JSON lines in input order, maps as PNG, bad files reported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image
from skimage import data

from app.cli import main
from app.cli_forensics import FILTER_NAMES
from app.core.forensics import FILTERS
from tests.forensics_synth import clone, enc, paste, with_thumbnail


def test_filter_names_match_the_core():
    assert FILTER_NAMES == tuple(FILTERS)


def test_forensics_jsonl_and_maps(tmp_path, capsys):
    img, _, _ = clone(data.astronaut(), (150, 40), (330, 300), 150)
    (tmp_path / "a_clone.jpg").write_bytes(enc(img, 92))
    (tmp_path / "b_broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    edited = paste(data.astronaut(), data.coffee()[120:250, 220:350], 300, 300)
    (tmp_path / "c_thumb.jpg").write_bytes(with_thumbnail(edited, data.astronaut()))
    out = tmp_path / "maps"
    rc = main(["forensics", str(tmp_path / "a_clone.jpg"), str(tmp_path / "b_broken.jpg"),
               str(tmp_path / "c_thumb.jpg"), "--out", str(out), "-q"])
    assert rc == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["status"] for r in lines] == ["ok", "error", "ok"]
    assert "not an image" in lines[1]["error"] or "damaged" in lines[1]["error"]
    first, third = lines[0], lines[2]
    assert set(first["filters"]) == set(FILTERS)
    assert first["filters"]["copymove"]["edited"] and first["edited"]
    assert third["filters"]["thumbnail"]["edited"]
    assert not first["filters"]["ela"]["edited"]  # maps to interpret never claim an edit
    for rec in (first, third):
        for entry in rec["filters"].values():
            for f in entry["files"]:
                with Image.open(f) as im:
                    assert im.format == "PNG" and im.size[0] > 0
    assert any(f.endswith(".thumbnail-preview.png") for f in third["filters"]["thumbnail"]["files"])


def test_forensics_chosen_filters_only_and_no_maps_without_out(tmp_path, capsys):
    p = tmp_path / "x.jpg"
    p.write_bytes(enc(data.chelsea(), 90))
    assert main(["forensics", "--filter", "jpeg", "--filter", "ela", str(p), "-q"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert list(rec["filters"]) == ["jpeg", "ela"]
    assert "files" not in rec["filters"]["ela"]
    tables = rec["filters"]["jpeg"]["findings"][0]
    assert tables["data"]["quality"] == 90 and tables["data"]["standard"] is True


def test_forensics_usage_errors(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["forensics", "--filter", "nope", str(tmp_path)])
    assert exc.value.code == 2
    assert main(["forensics", str(tmp_path)]) == 2  # an empty folder: nothing to do


def test_forensics_help_imports_no_opencv():
    code = ("import sys, contextlib, io\nfrom app.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: main(['forensics', '--help'])\n"
            "    except SystemExit: pass\n"
            "print('cv2' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["False", "False"]
