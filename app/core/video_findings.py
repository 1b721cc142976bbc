"""What a video file's container says (creation time, encoder, device), as metadata findings
in the same shape as a photo's, so the case-file panel and the report show them alike."""

from __future__ import annotations

from app.core.metadata import Finding
from app.core.results import Severity

CATEGORY = "Video file"


def container_findings(info) -> list[Finding]:
    """Findings for a probed VideoInfo: stream facts first, then the container's own tags."""
    c = info.container
    out = [Finding(CATEGORY, "Stream",
                   f"{info.width}x{info.height}, {info.fps:.3g} fps, codec {info.codec}"
                   + (f", {info.duration_s:.1f} s" if info.duration_s else ""),
                   "As decoded by FFmpeg; a re-encode changes these freely.")]
    if c.get("container"):
        brand = f" (brand {c['major_brand']})" if c.get("major_brand") else ""
        out.append(Finding(CATEGORY, "Container", c["container"] + brand,
                           "The file format. 'qt  ' is Apple QuickTime (iPhones, Final Cut); "
                           "'isom'/'mp42' are generic MP4."))
    created = c.get("creation_time")
    out.append(Finding(
        CATEGORY, "Created (container)", created or "not recorded",
        "The time the recorder or the last program to write the file set, in UTC; easily "
        "changed, and often left empty by converters and platforms."
        if created else "Many converters and platforms leave this empty; it proves nothing.",
        Severity.INFO))
    encoder = c.get("encoder") or c.get("software")
    if encoder:
        ffmpeg = encoder.lower().startswith(("lavf", "lavc")) or "ffmpeg" in encoder.lower()
        out.append(Finding(
            CATEGORY, "Written by", encoder,
            "FFmpeg's library wrote this file: it was converted, re-encoded or edited (most "
            "editors, converters, platforms and deepfake tools use FFmpeg). A camera's original "
            "file names the device instead." if ffmpeg else
            "The program or firmware that wrote the file, as the file states it.",
            Severity.NOTABLE if ffmpeg else Severity.INFO))
    if c.get("muxing_app") and c.get("muxing_app") != encoder:
        out.append(Finding(CATEGORY, "Muxing app", c["muxing_app"],
                           "The library that assembled the file."))
    device = " ".join(v for v in (c.get("make"), c.get("model")) if v)
    if device:
        out.append(Finding(CATEGORY, "Recording device", device,
                           "Written by the camera or phone; can be copied or forged."))
    if c.get("location"):
        out.append(Finding(CATEGORY, "Location", c["location"],
                           "GPS position stored by the recording device (ISO 6709).",
                           Severity.NOTABLE))
    if c.get("handlers"):
        out.append(Finding(CATEGORY, "Track handlers", c["handlers"],
                           "Names that recorders and muxers give their tracks (e.g. 'Core Media "
                           "Video' for Apple devices, 'VideoHandler' for FFmpeg)."))
    if c.get("date") and c.get("date") != created:
        out.append(Finding(CATEGORY, "Date tag", c["date"], "A date tag inside the file."))
    return out
