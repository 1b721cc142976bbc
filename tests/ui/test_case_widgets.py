"""The case-file widgets: metadata/quality panel and the notes + tags editor (offscreen)."""

from __future__ import annotations

from app.core.results import AnalysisResult, Status
from app.ui.metadata_panel import MetadataPanel
from app.ui.notes_editor import NotesEditor, parse_tags

QUALITY = [
    {"code": "face_too_small", "message": "Face is only 40 px across.", "severity": "warning",
     "face": 0, "value": 40.0, "makes_uncertain": True},
    {"code": "heavy_jpeg", "message": "Heavy JPEG compression.", "severity": "notable",
     "face": None, "value": 35.0, "makes_uncertain": False},
]
METADATA = [
    {"category": "camera", "label": "Camera (claimed)", "value": "Canon EOS 5D",
     "meaning": "Any software can write this.", "severity": "info"},
    {"category": "generator", "label": "Stable Diffusion generation parameters",
     "value": "a man <b>bold</b>", "meaning": "A strong sign of AI generation.",
     "severity": "warning"},
    {"category": "location", "label": "GPS location", "value": "present",
     "meaning": "Private information.", "severity": "notable"},
]


def result(**kw) -> AnalysisResult:
    return AnalysisResult(path="/x/a.jpg", status=Status.OK, quality=QUALITY, metadata=METADATA,
                          **kw)


def test_metadata_panel_lists_findings_and_quality(qtbot):
    panel = MetadataPanel()
    qtbot.addWidget(panel)
    panel.set_result(result())
    rows = panel.rows()
    assert [r["kind"] for r in rows] == ["quality"] * 2 + ["provenance"] * 3
    prov = [r for r in rows if r["kind"] == "provenance"]
    assert [r["severity"] for r in prov] == ["warning", "notable", "info"]  # most serious first
    assert rows[0]["label"] == "Face 1: face too small"
    assert rows[0]["value"] == "score not trusted (uncertain)"
    assert "make the score untrustworthy" in panel.headline()
    assert "1 warning(s), 1 notable" in panel.headline()
    # A dict (history record / JSON) works the same.
    panel.set_result(result().to_dict())
    assert len(panel.rows()) == 5


def test_metadata_panel_filter_and_selection(qtbot):
    panel = MetadataPanel()
    qtbot.addWidget(panel)
    panel.set_result(result())
    panel._show_info.setChecked(False)
    assert all(r["severity"] != "info" for r in panel.rows()) and len(panel.rows()) == 4
    group = panel.tree.topLevelItem(1)
    with qtbot.waitSignal(panel.sig_finding_selected) as blocker:
        panel.tree.setCurrentItem(group.child(0))
    assert blocker.args[0]["label"] == "Stable Diffusion generation parameters"
    detail = panel._detail.text()
    assert "A strong sign of AI generation." in detail
    # Tooltips are escaped rich text (they may quote file contents): the words, shown literally.
    assert "A strong sign of AI generation." in group.child(0).toolTip(2)


def test_metadata_panel_empty_error_and_cleared(qtbot):
    panel = MetadataPanel()
    qtbot.addWidget(panel)
    panel.set_result(AnalysisResult(path="/x/b.png", status=Status.OK))
    assert panel.headline().startswith("Input quality OK")
    labels = [r["label"] for r in panel.rows()]
    assert "No input-quality problems found." in labels
    assert any(label.startswith("Not checked") for label in labels)
    panel.set_result(AnalysisResult(path="/x/c.png", status=Status.ERROR, error="bad"))
    assert "could not be analysed" in panel.headline() and panel.rows() == []
    panel.clear()
    assert panel.headline() == "No image selected." and panel.rows() == []


def test_parse_tags():
    assert parse_tags(" a, b ,A,, long   tag ,b") == ["a", "b", "long tag"]
    assert parse_tags(["x", "x ", "y"]) == ["x", "y"]
    assert len(parse_tags("z" * 100)[0]) == 40


def test_notes_editor_emits_debounced_changes(qtbot):
    editor = NotesEditor()
    editor.DEBOUNCE_MS = 50
    editor._timer.setInterval(50)
    qtbot.addWidget(editor)
    emitted = []
    editor.sig_changed.connect(lambda *args: emitted.append(args))
    editor.set_record(7, "old note", "a, b")
    assert emitted == [] and not editor.is_dirty()  # loading a record is not an edit
    assert editor.notes() == "old note" and editor.tags() == ["a", "b"]
    with qtbot.waitSignal(editor.sig_changed, timeout=2000) as blocker:
        editor.notes_edit.setPlainText("Called the photographer.")
        assert editor.is_dirty() and "Unsaved" in editor.status.text()
    assert blocker.args == [7, "Called the photographer.", ["a", "b"]]
    assert not editor.is_dirty() and editor.status.text() == "Saved."


def test_notes_editor_flushes_before_switching_records(qtbot):
    editor = NotesEditor()
    qtbot.addWidget(editor)
    emitted = []
    editor.sig_changed.connect(lambda *args: emitted.append(args))
    editor.set_record("sha-1")
    qtbot.keyClicks(editor.tags_edit, "urgent, Urgent, source-A")
    assert editor.is_dirty() and emitted == []  # still within the debounce delay
    editor.set_record("sha-2", "second", ["x"])
    assert emitted == [("sha-1", "", ["urgent", "source-A"])]  # saved under the old key
    assert editor.key() == "sha-2" and editor.tags() == ["x"]
    editor.flush()
    assert len(emitted) == 1  # nothing changed: nothing emitted


def test_notes_editor_without_record_and_read_only(qtbot):
    editor = NotesEditor()
    qtbot.addWidget(editor)
    emitted = []
    editor.sig_changed.connect(lambda *args: emitted.append(args))
    assert not editor.isEnabled() and editor.key() is None
    editor.set_record(1, "n")
    assert editor.isEnabled()
    editor.set_read_only(True)
    assert editor.notes_edit.isReadOnly() and editor.tags_edit.isReadOnly()
    editor.set_known_tags(["election", "election", "verified"])
    assert editor.tags_edit.completer().model().stringList() == ["election", "verified"]
    editor.clear()
    editor.flush()
    assert emitted == [] and not editor.isEnabled()
