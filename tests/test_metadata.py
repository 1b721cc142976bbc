"""Provenance and metadata findings from file bytes (fixtures are made here, offline)."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from app.core import metadata as md
from app.core import provenance_c2pa as c2pa_mod
from app.core.results import Severity

XMP = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
       '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
       'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
       'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
       'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
       'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/{dst}"'
       '{extra}><dc:creator><rdf:Seq><rdf:li>Jane Doe</rdf:li></rdf:Seq></dc:creator>'
       '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def jpeg(rgb, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def png(rgb, **texts) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def exif_bytes(thumb_rgb=None, software=b"Adobe Photoshop 25.0 (Windows)", gps=True) -> bytes:
    piexif = pytest.importorskip("piexif")
    exif = {
        "0th": {piexif.ImageIFD.Make: b"Canon", piexif.ImageIFD.Model: b"Canon EOS 5D Mark IV",
                piexif.ImageIFD.Software: software,
                piexif.ImageIFD.DateTime: b"2024:05:02 10:00:00"},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 09:00:00"},
        "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((52, 1), (31, 1), (7, 1))} if gps else {},
        "1st": {},
    }
    if thumb_rgb is not None:
        exif["thumbnail"] = jpeg(np.asarray(Image.fromarray(thumb_rgb).resize((160, 160))))
    return piexif.dump(exif)


def by_label(findings, text):
    return [f for f in findings if text.lower() in f.label.lower()]


def test_exif_camera_times_software_gps_thumbnail(astronaut):
    found = md.extract(jpeg(astronaut, exif=exif_bytes(astronaut)), astronaut)
    (camera,) = by_label(found, "camera (claimed)")
    assert camera.value == "Canon EOS 5D Mark IV" and camera.category == md.CAMERA
    assert "not prove" in camera.meaning  # says what it does not prove
    assert by_label(found, "taken")[0].value.startswith("2024:05:01 09:00:00")
    saved = by_label(found, "last saved")[0]
    assert saved.severity == Severity.NOTABLE  # saved a day after capture
    editor = by_label(found, "photo editor")[0]
    assert "Photoshop" in editor.value and editor.severity == Severity.NOTABLE
    (gps,) = by_label(found, "gps")
    assert gps.value.startswith("present") and "52" not in gps.value  # no coordinates shown
    (thumb,) = by_label(found, "thumbnail")
    assert thumb.value.startswith("matches") and thumb.severity == Severity.INFO
    json.dumps([f.to_dict() for f in found])  # JSON-serialisable
    assert set(found[0].to_dict()) == {"category", "label", "value", "meaning", "severity"}


def test_thumbnail_of_another_picture_is_a_warning(astronaut, no_face):
    data = jpeg(astronaut, exif=exif_bytes(no_face[:400, :400]))
    (thumb,) = by_label(md.extract(data, astronaut), "thumbnail")
    assert "NOT match" in thumb.value and thumb.severity == Severity.WARNING
    # Without the decoded pixels, the check decodes a reduced image itself.
    (again,) = by_label(md.extract(data), "thumbnail")
    assert "NOT match" in again.value


def test_face_app_and_generators_in_software_tags(astronaut):
    found = md.extract(jpeg(astronaut, exif=exif_bytes(software=b"FaceApp 11.2", gps=False)))
    (app,) = by_label(found, "face-editing")
    assert app.severity == Severity.WARNING and app.value == "FaceApp 11.2"
    found = md.extract(jpeg(astronaut, exif=exif_bytes(software=b"Midjourney v6", gps=False)))
    assert by_label(found, "AI generator")[0].severity == Severity.WARNING
    found = md.extract(jpeg(astronaut, exif=exif_bytes(software=b"GIMP 2.10.36", gps=False)))
    assert by_label(found, "photo editor")[0].value == "GIMP 2.10.36"
    assert not by_label(found, "gps")


def test_stable_diffusion_parameters_png(astronaut):
    params = ("portrait of a man, photo\nNegative prompt: blurry\nSteps: 30, Sampler: DPM++ 2M, "
              "CFG scale: 7, Seed: 42, Size: 512x512, Model: sd_xl_base_1.0")
    found = md.extract(png(astronaut, parameters=params))
    (sd,) = by_label(found, "stable diffusion")
    assert sd.category == md.GENERATOR and sd.severity == Severity.WARNING
    assert sd.value.startswith("portrait of a man")
    assert "proves nothing" in sd.meaning


def test_sd_parameters_in_jpeg_user_comment(astronaut):
    pytest.importorskip("piexif")
    import piexif
    import piexif.helper

    comment = piexif.helper.UserComment.dump("a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7",
                                             encoding="unicode")
    exif = piexif.dump({"Exif": {piexif.ExifIFD.UserComment: comment}})
    found = md.extract(jpeg(astronaut, exif=exif))
    assert by_label(found, "stable diffusion")[0].value.startswith("a cat")


def test_comfyui_workflow_png(astronaut):
    found = md.extract(png(astronaut, prompt=json.dumps({"3": {"class_type": "KSampler"}}),
                           workflow=json.dumps({"nodes": []})))
    assert by_label(found, "comfyui")[0].severity == Severity.WARNING


@pytest.mark.parametrize("container", ["jpeg", "png"])
def test_xmp_digital_source_type_trained_algorithmic_media(astronaut, container):
    xmp = XMP.format(dst="trainedAlgorithmicMedia", extra=' xmp:CreatorTool="Adobe Firefly"')
    if container == "jpeg":
        data = jpeg(astronaut, xmp=xmp.encode())
    else:
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp)
        buf = io.BytesIO()
        Image.fromarray(astronaut).save(buf, "PNG", pnginfo=info)
        data = buf.getvalue()
    found = md.extract(data)
    (dst,) = by_label(found, "DigitalSourceType")
    assert dst.value == "trainedAlgorithmicMedia" and dst.severity == Severity.WARNING
    assert "claim" in dst.meaning
    assert by_label(found, "AI generator")[0].value == "Adobe Firefly"
    assert by_label(found, "creator (claimed")[0].value == "Jane Doe"


def test_xmp_camera_capture_and_composite(astronaut):
    found = md.extract(jpeg(astronaut, xmp=XMP.format(dst="digitalCapture", extra="").encode()))
    assert by_label(found, "DigitalSourceType")[0].severity == Severity.INFO
    composite = XMP.format(dst="compositeWithTrainedAlgorithmicMedia", extra="")
    found = md.extract(jpeg(astronaut, xmp=composite.encode()))
    assert by_label(found, "DigitalSourceType")[0].severity == Severity.WARNING


def test_no_metadata_says_absence_proves_nothing(astronaut):
    found = md.extract(jpeg(astronaut))
    labels = {f.label: f for f in found}
    assert labels["EXIF / XMP / IPTC metadata"].value == "none found"
    assert "proves nothing" in labels["EXIF / XMP / IPTC metadata"].meaning
    assert labels["Content Credentials (C2PA)"].value == "none"
    assert all(f.severity == Severity.INFO for f in found)


def test_damaged_inputs_never_raise(astronaut, tmp_path):
    good = jpeg(astronaut, exif=exif_bytes(astronaut))
    for data in (b"", b"not an image", good[:300], good[:2000] + bytes(500),
                 png(astronaut)[:100]):
        md.extract(data)  # no exception
    from app.core.images import LoadedImage

    image = LoadedImage(rgb=astronaut, path=str(tmp_path / "gone.jpg"))
    assert md.for_image(image) == []  # vanished file: nothing to say, no crash


def test_remote_manifest_reference_is_not_fetched(astronaut):
    xmp = XMP.format(dst="digitalCapture", extra=' xmlns:dcterms="http://purl.org/dc/terms/" '
                     'dcterms:provenance="https://example.invalid/manifest.c2pa"')
    (c2pa,) = by_label(md.extract(jpeg(astronaut, xmp=xmp.encode())), "Content Credentials")
    assert c2pa.value.startswith("referenced online") and "did not fetch" in c2pa.meaning
    assert c2pa_mod._C2PA_OFFLINE["verify"]["remote_manifest_fetch"] is False


# -- C2PA: signed with a throwaway CA made here, fully offline -----------------------------------

def _test_signer():
    """An ES256 leaf certificate under a test root CA (c2pa rejects self-signed leaves)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Newsroom")])

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Test Root CA"))
          .issuer_name(name("Test Root CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name("Test Signer"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    private = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return chain, private


@pytest.fixture(scope="module")
def c2pa_signed(astronaut) -> bytes:
    c2pa = pytest.importorskip("c2pa")
    chain, private = _test_signer()
    manifest = {
        "claim_generator_info": [{"name": "DreamMaker AI", "version": "2.0"}],
        "title": "generated.jpg",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created", "softwareAgent": {"name": "DreamMaker"},
            "digitalSourceType":
                "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}],
    }
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain, private, None))
    out = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(jpeg(astronaut)), out)
    return out.getvalue()


def test_c2pa_valid_manifest(c2pa_signed):
    found = md.extract(c2pa_signed)
    (cred,) = by_label(found, "Content Credentials")
    assert cred.value.startswith("present; signature and content hashes valid")
    assert "trust list" in cred.value and "not that the claims are true" not in cred.value
    assert "do not prove the claims are true" in cred.meaning
    assert by_label(found, "Signed by")[0].value.startswith("Test Signer / Test Newsroom")
    assert by_label(found, "Claimed by software")[0].value == "DreamMaker AI 2.0"
    (ai,) = by_label(found, "Declared AI generation")
    assert ai.severity == Severity.WARNING and "trainedAlgorithmicMedia" in ai.value


def test_c2pa_pixels_changed_after_signing_is_invalid(c2pa_signed):
    tampered = bytearray(c2pa_signed)
    tampered[-300] ^= 0xFF  # inside the entropy-coded image data, after the manifest
    (cred,) = by_label(md.extract(bytes(tampered)), "Content Credentials")
    assert "INVALID" in cred.value and "dataHash" in cred.value
    assert cred.severity == Severity.WARNING


def test_c2pa_corrupt_manifest_is_unreadable(c2pa_signed):
    damaged = bytearray(c2pa_signed)
    at = c2pa_signed.find(b"c2pa.signature")
    damaged[at + 40:at + 200] = bytes(160)
    (cred,) = by_label(md.extract(bytes(damaged)), "Content Credentials")
    assert cred.value.startswith("present but") and cred.severity == Severity.WARNING


def test_c2pa_library_missing_is_handled(c2pa_signed, monkeypatch):
    monkeypatch.setitem(sys.modules, "c2pa", None)  # import c2pa -> ImportError
    (cred,) = by_label(md.extract(c2pa_signed), "Content Credentials")
    assert cred.value == "present, but cannot be checked here"
    assert "c2pa-python" in cred.meaning
    assert c2pa_mod.c2pa_available()[0] is False


def test_analyzer_attaches_metadata_and_is_cheap(analyzer, astronaut, tmp_path):
    import time

    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg(astronaut, exif=exif_bytes(astronaut)))
    result = analyzer.analyze(path, heatmaps=False)
    labels = {m["label"] for m in result.metadata}
    assert "Camera (claimed)" in labels and "GPS location" in labels
    record = json.loads(json.dumps(result.to_dict()))
    assert record["metadata"] == result.metadata and "quality" in record
    assert "metadata" in result.timings_ms
    assert analyzer.analyze(path, heatmaps=False, metadata=False).metadata == []
    data = path.read_bytes()
    t0 = time.perf_counter()
    for _ in range(10):
        md.extract(data, astronaut)
    assert (time.perf_counter() - t0) / 10 < 0.04  # ~1 ms here; the batch target is 25 img/s
