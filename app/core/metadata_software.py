"""Name the software a file says wrote it: AI generator, face-editing app, photo editor, other.

Shared by the EXIF/XMP findings (app.core.metadata) and the C2PA findings
(app.core.provenance_c2pa).
"""

from __future__ import annotations

import re

from app.core.metadata_types import EASY_FORGED, GENERATOR, SOFTWARE, Finding
from app.core.results import Severity

# Names in metadata that point to an AI image generator (lower-case regex, display name).
GENERATORS = [
    (r"midjourney", "Midjourney"), (r"dall[\-·\s]e\b|\bdalle[\s-]?[23]\b", "DALL-E"),
    (r"openai|chatgpt", "OpenAI"), (r"adobe firefly", "Adobe Firefly"),
    (r"stable[\s_-]?diffusion|sdxl|stability\.?ai", "Stable Diffusion"),
    (r"dreamstudio", "DreamStudio"), (r"comfyui", "ComfyUI"), (r"automatic1111|\bforge\b", "A1111"),
    (r"novelai", "NovelAI"), (r"invokeai", "InvokeAI"), (r"leonardo\.?ai", "Leonardo.Ai"),
    (r"ideogram", "Ideogram"), (r"google imagen|\bimagen [234]\b|imagefx", "Google Imagen"),
    (r"nightcafe", "NightCafe"),
    (r"craiyon", "Craiyon"), (r"bing image creator|designer\.microsoft", "Microsoft Designer"),
    (r"\bflux(\.1)?\b.*(dev|schnell|pro)|black forest labs", "FLUX"), (r"fooocus", "Fooocus"),
    (r"runway\s?ml|\brunway gen", "Runway"), (r"playground\s?ai", "Playground AI"),
]
FACE_APPS = ["faceapp", "facetune", "meitu", "beautyplus", "remini", "lensa", "youcam", "reface",
             "b612", "perfect365", "airbrush"]
EDITORS = ["photoshop", "lightroom", "gimp", "snapseed", "picsart", "pixelmator", "affinity",
           "canva", "luminar", "paint.net", "krita", "photopea", "fotor", "photodirector",
           "capture one", "darktable", "rawtherapee", "photoscape", "vsco", "picasa"]
_GEN_RE = [(re.compile(p, re.I), name) for p, name in GENERATORS]

GEN_CAVEAT = ("A strong sign of AI generation, but such text can be copied into any file and "
              "is lost on re-save, so its absence proves nothing.")


def classify_software(name: str, where: str, out: list[Finding], only_known: bool = False) -> None:
    """Classify one software name: AI generator, face-altering app, photo editor or other."""
    if not name:
        return
    low = name.lower()
    gens = [g for rx, g in _GEN_RE if rx.search(low)]
    if gens:
        out.append(Finding(GENERATOR, f"AI generator named ({where})", name,
                           f"Names {', '.join(gens)}, a tool that generates or alters images with "
                           "AI. " + GEN_CAVEAT, Severity.WARNING))
    elif any(re.search(rf"\b{re.escape(a)}\b", low) for a in FACE_APPS):
        out.append(Finding(SOFTWARE, f"Face-editing app ({where})", name,
                           "Written by an app made to retouch or transform faces. It shows the "
                           "app saved the file, not what (if anything) it changed. " + EASY_FORGED,
                           Severity.WARNING))
    elif any(e in low for e in EDITORS):
        out.append(Finding(SOFTWARE, f"Photo editor ({where})", name,
                           "Saved by image-editing software. Editing (crop, colour, resize) is "
                           "normal for published photos; this says nothing about what changed. "
                           + EASY_FORGED, Severity.NOTABLE))
    elif not only_known:
        out.append(Finding(SOFTWARE, f"Software ({where})", name,
                           "The program or device firmware that wrote the file. " + EASY_FORGED))

