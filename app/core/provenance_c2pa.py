"""C2PA Content Credentials: read and validate offline with c2pa-python (never fetches).

Called by app.core.metadata for each file; shares its types (app.core.metadata_types), never its
private names.
"""

from __future__ import annotations

import io
import json
import threading

from app.core.metadata_read import read_headers
from app.core.metadata_software import classify_software
from app.core.metadata_types import ABSENCE, AI_SOURCE_TYPES, C2PA, Finding, Meta, clean
from app.core.results import Severity

_C2PA_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff",
              "HEIF": "image/heif", "AVIF": "image/avif", "GIF": "image/gif"}
_C2PA_OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_ctx_lock = threading.Lock()
_ctx = None
C2PA_CAVEAT = ("Valid credentials prove who signed the claims and that the pixels have not "
               "changed since; they do not prove the claims are true. This app checks offline "
               "and has no list of trusted signers, so check the signer's identity yourself.")


def c2pa_available() -> tuple[bool, str]:
    """(True, version) when c2pa-python loads here, else (False, why)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        import c2pa  # noqa: F401 - loading the native library is the test

        return True, version("c2pa-python")
    except (ImportError, OSError, PackageNotFoundError) as exc:
        return False, f"{type(exc).__name__}: {exc}"


def c2pa_findings(data: bytes, meta: Meta | None = None) -> list[Finding]:
    """Read and validate C2PA Content Credentials offline (never fetches remote manifests)."""
    meta = meta or read_headers(data)
    label = "Content Credentials (C2PA)"
    remote = [u for u in (meta.xmp or {}).get("provenance", []) if u.startswith("http")]
    if not meta.c2pa_marker:
        if remote:
            return [Finding(C2PA, label, f"referenced online: {clean(remote[0], 200)}",
                            "The file points to credentials stored on a website. This app works "
                            "offline and did not fetch them; check them with a C2PA verifier.",
                            Severity.NOTABLE)]
        return [Finding(C2PA, label, "none", "The file carries no Content Credentials. " + ABSENCE)]
    try:
        import c2pa
    except (ImportError, OSError) as exc:
        return [Finding(C2PA, label, "present, but cannot be checked here",
                        f"The C2PA library is not available ({type(exc).__name__}); install "
                        "c2pa-python to read and validate them.", Severity.NOTABLE)]
    try:
        with c2pa.Reader(_C2PA_MIME.get(meta.fmt or "", ""), io.BytesIO(data),
                         context=_context(c2pa)) as reader:
            store = json.loads(reader.json())
    except Exception as exc:  # c2pa.C2paError and its kinds: damaged or forged manifest
        return [Finding(C2PA, label, "present but unreadable (damaged or tampered)",
                        "The file carries Content Credentials that could not be decoded "
                        f"({clean(exc, 160)}). Nothing they claim can be relied on.",
                        Severity.WARNING)]
    return _c2pa_store_findings(store)


def _context(c2pa):
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            _ctx = c2pa.Context.from_dict(_C2PA_OFFLINE)
        return _ctx


def _c2pa_store_findings(store: dict) -> list[Finding]:
    label = "Content Credentials (C2PA)"
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    state = store.get("validation_state") or "Unknown"
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = [f.get("code", "?") for f in results.get("failure", [])
                if not str(f.get("code", "")).startswith("signingCredential.untrusted")]
    if state == "Invalid" or failures:
        out = [Finding(C2PA, label, "present but INVALID: " + ", ".join(failures[:5]),
                       "The file changed after it was signed, or the credentials are damaged or "
                       "forged. The claims below cannot be relied on.", Severity.WARNING)]
    else:
        trust = ("signer on a trust list" if state == "Trusted"
                 else "signer not checked against a trust list")
        out = [Finding(C2PA, label, f"present; signature and content hashes valid ({trust})",
                       C2PA_CAVEAT, Severity.NOTABLE)]
    sig = manifest.get("signature_info") or {}
    who = " / ".join(clean(v, 120) for v in (sig.get("common_name"), sig.get("issuer")) if v)
    if who:
        when = f", {clean(sig['time'], 40)}" if sig.get("time") else ""
        out.append(Finding(C2PA, "Signed by (C2PA certificate)", who + when,
                           "The name in the signing certificate. Anyone can make a certificate "
                           "with any name; it means something only if you trust its issuer."))
    gens = [" ".join(str(g.get(k, "")) for k in ("name", "version")).strip()
            for g in manifest.get("claim_generator_info") or []]
    gens = [g for g in gens if g] or [str(manifest.get("claim_generator") or "")]
    if any(gens):
        gen_text = clean(", ".join(g for g in gens if g), 200)
        out.append(Finding(C2PA, "Claimed by software (C2PA)", gen_text,
                           "The software that wrote these credentials.", Severity.INFO))
        classify_software(gen_text, "C2PA claim generator", out, only_known=True)
    actions = [a for asr in manifest.get("assertions") or []
               if str(asr.get("label", "")).startswith("c2pa.actions")
               for a in (asr.get("data") or {}).get("actions") or []]
    if actions:
        parts, ai = [], False
        for a in actions[:8]:
            dst = str(a.get("digitalSourceType") or "").rstrip("/").rsplit("/", 1)[-1]
            ai = ai or dst.lower() in AI_SOURCE_TYPES
            agent = a.get("softwareAgent")
            agent = agent.get("name") if isinstance(agent, dict) else agent
            parts.append(" ".join(p for p in (str(a.get("action", "?")).removeprefix("c2pa."),
                                              f"by {agent}" if agent else "",
                                              f"[{dst}]" if dst else "") if p))
        out.append(Finding(
            C2PA, f"Declared {'AI generation' if ai else 'edits'} (C2PA actions)",
            clean("; ".join(parts)),
            ("The signer declares that AI generated or altered this content. " if ai else
             "What the signer says was done to the file. ") + C2PA_CAVEAT,
            Severity.WARNING if ai else Severity.INFO))
    ingredients = manifest.get("ingredients") or []
    if ingredients:
        titles = ", ".join(clean(i.get("title", "?"), 60) for i in ingredients[:3])
        out.append(Finding(C2PA, "Made from (C2PA ingredients)", f"{len(ingredients)}: {titles}",
                           "Earlier files this one was made from, as the signer declares."))
    return out

