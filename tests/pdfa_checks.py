"""Our own check of the PDF/A-4f clauses (ISO 19005-4:2020 with Annex A) that bear on the
files certseal writes, read with pikepdf (qpdf) and fontTools. No validator like veraPDF
installs here; this is not one. The clause numbers are those of the standard (and of
veraPDF's PDFA-4F profile, whose rule list this follows).

Deny by default where we cannot judge: a kind of object these checks were not written for
(a composite font, optional content, a JPEG 2000 image, an action) is reported as a
problem, not passed over. Checked on the file's final state (what a reader of the whole
file sees), which for a sealed licence includes the signature, DSS and time-stamp
revisions.

Not checked here (say so when quoting a result): the byte-level syntax rules beyond what
qpdf reports (6.1.4 xref EOL details, 6.1.5 hex strings, 6.1.8 object headers); the ICC
profile beyond its header; widths of glyphs not shown; ToUnicode completeness; the value
types of XMP properties; transparency groups (6.2.9-2 holds by the output intent).

Import as ``import pdfa_checks`` (tests/ is on sys.path).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import pikepdf
from fontTools.ttLib import TTFont
from lxml import etree

# ISO 32000-2 Annex A, Table A.1: every content stream operator.
OPERATORS = frozenset("""b B b* B* BDC BI BMC BT BX c cm CS cs d d0 d1 Do DP EI EMC ET EX f F
    f* G g gs h i ID j J K k l m M MP n q Q re RG rg ri s S SC sc SCN scn sh T* Tc Td TD Tf TJ
    Tj TL Tm Tr Ts Tw Tz v w W W* y ' \"""".split())
FILTERS = frozenset({"/ASCIIHexDecode", "/ASCII85Decode", "/FlateDecode", "/RunLengthDecode",
                     "/CCITTFaxDecode", "/JBIG2Decode", "/DCTDecode", "/JPXDecode"})
ANNOTATION_TYPES = frozenset("""/Text /Link /FreeText /Line /Square /Circle /Polygon /PolyLine
    /Highlight /Underline /Squiggly /StrikeOut /Stamp /Caret /Ink /Popup /FileAttachment
    /Widget /PrinterMark /TrapNet /Watermark /Redact /Projection""".split())
BLEND_MODES = frozenset("""/Normal /Compatible /Multiply /Screen /Overlay /Darken /Lighten
    /ColorDodge /ColorBurn /HardLight /SoftLight /Difference /Exclusion /Hue /Saturation
    /Color /Luminosity""".split())
# Annotation flags (ISO 32000-2 Table 167)
INVISIBLE, HIDDEN, PRINT, NO_VIEW, TOGGLE_NO_VIEW = 1, 2, 4, 32, 256
SHOWS_TEXT = {"Tj", "TJ", "'", '"'}
_HEADER = re.compile(rb"%PDF-2\.[0-9](\r\n|\r|\n)%[\x80-\xff]{4}")
_MIME = re.compile(r"^[-\w+.]+/[-\w+.]+$")


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    shown_glyphs: int = 0  # glyphs whose width and presence were compared

    def add(self, clause: str, message: str) -> None:
        self.problems.append(f"{clause}: {message}")


def check_pdfa4f(data: bytes) -> Findings:
    """Every problem found, as "clause: message"; an empty list means none of these checks
    failed (not that the file conforms)."""
    found = Findings()
    _file_structure(data, found)
    pdf = pikepdf.open(io.BytesIO(data))
    for problem in pdf.check_pdf_syntax():
        found.add("qpdf", problem)
    _trailer_and_catalog(pdf, found)
    _streams(pdf, found)
    _metadata(pdf, found)
    _output_intents(pdf, found)
    _embedded_files(pdf, found)
    _no_actions(pdf, found)
    fonts = _FontReader(found)
    for number, page in enumerate(pdf.pages):
        if "/PresSteps" in page.obj:
            found.add("6.11-2", f"page {number + 1} has PresSteps")
        _content(page.obj, page.obj.get("/Resources"), f"page {number + 1}", found, fonts)
        for annot in page.obj.get("/Annots", []):
            _annotation(annot, number, found, fonts)
    return found


def _file_structure(data: bytes, found: Findings) -> None:
    if not _HEADER.match(data):
        found.add("6.1.2", f"header is {data[:16]!r}, not %PDF-2.n and a binary comment")
    if not data.rstrip(b"\r\n").endswith(b"%%EOF"):
        found.add("6.1.3-3", "data follows the last %%EOF")


def _trailer_and_catalog(pdf: pikepdf.Pdf, found: Findings) -> None:
    trailer, root = pdf.trailer, pdf.Root
    if "/ID" not in trailer:
        found.add("6.1.3-1", "no /ID in the trailer")
    if "/Encrypt" in trailer:
        found.add("6.1.3-2", "the file is encrypted")
    if "/Info" in trailer and "/PieceInfo" not in root:
        found.add("6.1.3-4", "the trailer has /Info (PDF/A-4 keeps metadata in XMP only)")
    version = root.get("/Version")
    if version is not None and not re.fullmatch(r"/2\.[0-9]", str(version)):
        found.add("6.1.12-1", f"catalog /Version is {version}")
    for key, clause in (("/Requirements", "6.12-1"), ("/NeedsRendering", "6.4.2-2"),
                        ("/OCProperties", "6.10 (not checked: optional content)")):
        if key in root:
            found.add(clause, f"catalog has {key}")
    if "/AlternatePresentations" in root.get("/Names", {}):
        found.add("6.11-1", "names dictionary has AlternatePresentations")
    perms = root.get("/Perms")
    if perms is not None and set(perms.keys()) - {"/DocMDP", "/UR3"}:
        found.add("6.1.11-1", f"permissions dictionary has {sorted(perms.keys())}")
    form = root.get("/AcroForm")
    if form is not None:
        if bool(form.get("/NeedAppearances", False)):
            found.add("6.4.1-2", "NeedAppearances is true")
        if "/XFA" in form:
            found.add("6.4.2-1", "the form has XFA")


def _streams(pdf: pikepdf.Pdf, found: Findings) -> None:
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        where = f"object {obj.objgen}"
        for key in ("/F", "/FFilter", "/FDecodeParms"):
            if key in obj.stream_dict:
                found.add("6.1.6.1-2", f"{where}: stream has {key}")
        filters = obj.stream_dict.get("/Filter")
        names = ([] if filters is None else
                 [filters] if isinstance(filters, pikepdf.Name) else list(filters))
        for name in names:
            if str(name) not in FILTERS:
                found.add("6.1.6.2-1", f"{where}: filter {name}")


def _metadata(pdf: pikepdf.Pdf, found: Findings) -> None:
    stream = pdf.Root.get("/Metadata")
    if not isinstance(stream, pikepdf.Stream):
        found.add("6.7.2.1-1", "the catalog has no metadata stream")
        return
    if stream.get("/Type") != "/Metadata" or stream.get("/Subtype") != "/XML":
        found.add("6.7.2.1-1", "metadata stream is not /Type /Metadata /Subtype /XML")
    raw = stream.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        found.add("6.7.2.1-5", "XMP is not UTF-8")
        return
    header = re.search(r"<\?xpacket begin=[^>]*\?>", text)
    if header is None:
        found.add("6.7.2.1-4", "no xpacket header")
    elif "bytes=" in header.group(0) or "encoding=" in header.group(0):
        found.add("6.7.2.1-2/3", f"xpacket header {header.group(0)}")
    try:
        etree.fromstring(raw)
    except etree.XMLSyntaxError as exc:
        found.add("6.7.2.1-4", f"XMP is not well-formed: {exc}")
        return
    if 'xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"' not in text:
        found.add("6.7.3-4/6", "the PDF/A identification schema is not under the pdfaid prefix")
    meta = pdf.open_metadata()
    expected = {"pdfaid:part": "4", "pdfaid:rev": "2020", "pdfaid:conformance": "F"}
    for key, value in expected.items():
        if meta.get(key) != value:
            found.add("6.7.3", f"{key} is {meta.get(key)!r}, not {value!r}")


def _output_intents(pdf: pikepdf.Pdf, found: Findings) -> None:
    intents = list(pdf.Root.get("/OutputIntents", []))
    if not intents:
        found.add("6.2.4.3", "no output intent, yet DeviceRGB and DeviceGray are used")
    profiles = set()
    for intent in intents:
        if "/DestOutputProfileRef" in intent:
            found.add("6.2.3-3", "output intent has DestOutputProfileRef")
        if intent.get("/S") != "/GTS_PDFA1":
            continue
        icc = intent.get("/DestOutputProfile")
        if not isinstance(icc, pikepdf.Stream):
            found.add("6.2.3-1", "PDF/A output intent without a DestOutputProfile")
            continue
        header = icc.read_bytes()[:20]
        major, device_class, space = header[8], header[12:16], header[16:20]
        if device_class not in (b"mntr", b"prtr") or space not in (b"RGB ", b"GRAY", b"CMYK") \
                or major >= 5:
            found.add("6.2.3-1", f"profile class {device_class!r}, space {space!r}, v{major}")
        if space != b"RGB ":
            found.add("6.2.4.3-2", f"output intent profile is {space!r}: DeviceRGB needs RGB")
        profiles.add(icc.objgen)
    if len(profiles) > 1:
        found.add("6.2.3-2", "output intents with different profiles")


def _embedded_files(pdf: pikepdf.Pdf, found: Findings) -> None:
    names = pdf.Root.get("/Names", {}).get("/EmbeddedFiles")
    if names is None:
        found.add("6.9-5", "a PDF/A-4f file has no EmbeddedFiles name tree")
        return
    pairs = list(names.get("/Names", []))
    if "/Kids" in names:
        found.add("6.9 (not checked)", "EmbeddedFiles name tree with kids")
    for name, spec in zip(pairs[::2], pairs[1::2], strict=True):
        where = f"embedded file {name}"
        for key in ("/F", "/UF"):
            if key not in spec:
                found.add("6.9-2", f"{where}: file specification without {key}")
        if "/AFRelationship" not in spec:
            found.add("6.9-4", f"{where}: no AFRelationship")
        stream = spec.get("/EF", {}).get("/F")
        subtype = str(stream.get("/Subtype", "")).lstrip("/") if stream is not None else ""
        decoded = subtype.replace("#2F", "/").replace("#2f", "/")
        if not _MIME.match(decoded):
            found.add("6.9-1", f"{where}: Subtype {subtype!r} is not a MIME type")


def _no_actions(pdf: pikepdf.Pdf, found: Findings) -> None:
    # Stricter than 6.6: certseal writes no actions at all, so any is a finding.
    for obj in pdf.objects:
        dictionary = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
        if not isinstance(dictionary, pikepdf.Dictionary):
            continue
        for key in ("/A", "/AA", "/OpenAction", "/JS", "/JavaScript"):
            if key in dictionary:
                found.add("6.6 (stricter: no actions)", f"object {obj.objgen} has {key}")


def _annotation(annot: pikepdf.Dictionary, page: int, found: Findings,
                fonts: _FontReader) -> None:
    where = f"page {page + 1} annotation {annot.get('/T', annot.get('/Subtype'))}"
    subtype = annot.get("/Subtype")
    if str(subtype) not in ANNOTATION_TYPES:
        found.add("6.3.1-1", f"{where}: subtype {subtype}")
    flags = int(annot.get("/F", -1))
    if flags < 0 and subtype != "/Popup":
        found.add("6.3.2-1", f"{where}: no /F")
    elif flags >= 0 and (not flags & PRINT or flags & (INVISIBLE | HIDDEN | NO_VIEW
                                                       | TOGGLE_NO_VIEW)):
        found.add("6.3.2-2", f"{where}: flags {flags}")
    x1, y1, x2, y2 = (float(v) for v in annot.get("/Rect", [0, 0, 0, 0]))
    appearance = annot.get("/AP")
    if appearance is None:
        if not (x1 == x2 and y1 == y2) and str(subtype) not in ("/Popup", "/Link",
                                                                 "/Projection"):
            found.add("6.3.3-1", f"{where}: no appearance dictionary")
        return
    if set(appearance.keys()) != {"/N"}:
        found.add("6.3.3-2", f"{where}: appearance keys {sorted(appearance.keys())}")
    normal = appearance.get("/N")
    if annot.get("/FT") != "/Btn" and not isinstance(normal, pikepdf.Stream):
        found.add("6.3.3-4", f"{where}: /N is not an appearance stream")
    if isinstance(normal, pikepdf.Stream):
        _content(normal, normal.get("/Resources"), where, found, fonts)


def _content(holder, resources, where: str, found: Findings, fonts: _FontReader,
             seen: set | None = None) -> None:
    """One content stream (a page, a form XObject, an appearance) and what it draws."""
    seen = set() if seen is None else seen
    resources = resources if resources is not None else pikepdf.Dictionary()
    _resources(resources, where, found)
    font_stack: list[pikepdf.Dictionary | None] = [None]
    for operands, operator in pikepdf.parse_content_stream(holder):
        op = str(operator)
        if op == "INLINE IMAGE":
            found.add("6.2 (not checked)", f"{where}: inline image")
            continue
        if op not in OPERATORS:
            found.add("6.2.2-1", f"{where}: operator {op}")
        if op == "q":
            font_stack.append(font_stack[-1])
        elif op == "Q" and len(font_stack) > 1:
            font_stack.pop()
        elif op in ("k", "K") or (op in ("cs", "CS") and operands[0] == "/DeviceCMYK"):
            found.add("6.2.4.3-3", f"{where}: DeviceCMYK without a CMYK output intent")
        elif op in ("Tf", "Do", "gs", "sh", "cs", "CS", "scn", "SCN") and operands:
            name = operands[0] if op != "scn" and op != "SCN" else operands[-1]
            if not isinstance(name, pikepdf.Name):
                continue
            category = {"Tf": "/Font", "Do": "/XObject", "gs": "/ExtGState", "sh": "/Shading",
                        "scn": "/Pattern", "SCN": "/Pattern"}.get(op, "/ColorSpace")
            if name in ("/DeviceRGB", "/DeviceGray", "/Pattern"):
                continue
            target = resources.get(category, {}).get(name)
            if target is None:
                found.add("6.2.2-2/3", f"{where}: {op} {name} not in its resources")
                continue
            if op == "Tf":
                font_stack[-1] = target
            elif op == "Do":
                _xobject(target, f"{where} {name}", found, fonts, seen)
        if op in SHOWS_TEXT:
            fonts.shown(font_stack[-1], operands, where)


def _resources(resources, where: str, found: Findings) -> None:
    for name, state in resources.get("/ExtGState", {}).items():
        if "/TR" in state or "/HTO" in state:
            found.add("6.2.5-1/3", f"{where} {name}: TR or HTO")
        if "/TR2" in state and state["/TR2"] != "/Default":
            found.add("6.2.5-2", f"{where} {name}: TR2 other than Default")
        if "/BM" in state:
            modes = state["/BM"] if isinstance(state["/BM"], pikepdf.Array) else [state["/BM"]]
            if any(str(m) not in BLEND_MODES for m in modes):
                found.add("6.2.9-1", f"{where} {name}: blend mode {state['/BM']}")
        if "/HT" in state:
            found.add("6.2.5 (not checked)", f"{where} {name}: halftone")
    for key in ("/Shading", "/Pattern", "/Properties"):
        if key in resources:
            found.add("6.2 (not checked)", f"{where}: resources have {key}")
    for name, space in resources.get("/ColorSpace", {}).items():
        found.add("6.2.4 (not checked)", f"{where}: colour space resource {name} {space}")


def _xobject(xobject: pikepdf.Stream, where: str, found: Findings, fonts: _FontReader,
             seen: set) -> None:
    if xobject.objgen in seen:
        return
    seen.add(xobject.objgen)
    subtype = xobject.get("/Subtype")
    if subtype == "/Image":
        _image(xobject, where, found)
    elif subtype == "/Form":
        if "/OPI" in xobject:
            found.add("6.2.8.1-1", f"{where}: form XObject with OPI")
        if "/Ref" in xobject:
            found.add("6.2.8.2-1", f"{where}: reference XObject")
        if "/Group" in xobject or "/SMask" in xobject:
            found.add("6.2.9 (not checked)", f"{where}: transparency group")
        _content(xobject, xobject.get("/Resources"), where, found, fonts, seen)
    else:
        found.add("6.2 (not checked)", f"{where}: XObject {subtype}")


def _image(image: pikepdf.Stream, where: str, found: Findings) -> None:
    for key, clause in (("/Alternates", "6.2.7.1-1"), ("/OPI", "6.2.7.1-2")):
        if key in image:
            found.add(clause, f"{where}: image has {key}")
    if bool(image.get("/Interpolate", False)):
        found.add("6.2.7.1-3", f"{where}: Interpolate true")
    bits = int(image.get("/BitsPerComponent", 8))
    if bool(image.get("/ImageMask", False)):
        if bits != 1:
            found.add("6.2.7.1-5", f"{where}: image mask of {bits} bits")
    elif bits not in (1, 2, 4, 8, 16):
        found.add("6.2.7.1-4", f"{where}: {bits} bits per component")
    space = image.get("/ColorSpace")
    if space not in ("/DeviceRGB", "/DeviceGray") and not bool(image.get("/ImageMask", False)):
        found.add("6.2.4 (not checked)", f"{where}: image colour space {space}")
    filters = image.get("/Filter")
    names = ([str(f) for f in filters] if isinstance(filters, pikepdf.Array)
             else [str(filters)])
    if "/JPXDecode" in names:
        found.add("6.2.7.3 (not checked)", f"{where}: JPEG 2000 image")
    mask = image.get("/SMask")
    if isinstance(mask, pikepdf.Stream):
        _image(mask, f"{where} SMask", found)


class _FontReader:
    """Simple TrueType fonts with an embedded program (what ReportLab writes): every code
    shown must map to a real glyph (6.2.10.4.1-2, 6.2.10.9) whose width in the font
    dictionary agrees with the program (6.2.10.5); the dictionaries must be complete
    (6.2.10.2) and the symbolic-font encoding rules hold (6.2.10.6)."""

    def __init__(self, found: Findings) -> None:
        self.found = found
        self._programs: dict[tuple, tuple[dict[int, str], TTFont] | None] = {}

    def shown(self, font, operands, where: str) -> None:
        if font is None:
            self.found.add("6.2.10", f"{where}: text shown with no font set")
            return
        program = self._program(font, where)
        if program is None:
            return
        cmap, face, unicode = program
        strings = []
        for operand in operands:
            if isinstance(operand, pikepdf.Array):
                strings += [bytes(item) for item in operand if isinstance(item, pikepdf.String)]
            elif isinstance(operand, pikepdf.String):
                strings.append(bytes(operand))
        first, widths = int(font["/FirstChar"]), list(font["/Widths"])
        scale = 1000 / face["head"].unitsPerEm
        for string in strings:
            for code in string:
                glyph = cmap.get(code)
                if glyph is None or glyph == ".notdef":
                    self.found.add("6.2.10.4.1-2/6.2.10.9",
                                   f"{where}: code {code} of {font['/BaseFont']} shows .notdef")
                    continue
                if unicode is not None and unicode.get(code) in (None, "\x00", "\ufeff",
                                                                 "\ufffe"):
                    self.found.add("6.2.10.7-1", f"{where}: code {code} of "
                                                 f"{font['/BaseFont']} has no usable ToUnicode")
                advance = face["hmtx"][glyph][0] * scale
                declared = float(widths[code - first]) if first <= code < first + len(
                    widths) else float(font["/FontDescriptor"].get("/MissingWidth", 0))
                if abs(advance - declared) > 1:
                    self.found.add("6.2.10.5", f"{where}: code {code} of {font['/BaseFont']} "
                                               f"is {declared} wide, its glyph {advance:.1f}")
                self.found.shown_glyphs += 1

    def _program(self, font, where: str):
        key = font.objgen
        if key in self._programs:
            return self._programs[key]
        self._programs[key] = None
        found = self.found
        if font.get("/Type") != "/Font":
            found.add("6.2.10.2-1", f"{where}: font dictionary without /Type /Font")
        if font.get("/Subtype") != "/TrueType":
            found.add("6.2.10 (not checked)", f"{where}: font subtype {font.get('/Subtype')}")
            return None
        for key_name in ("/FirstChar", "/LastChar", "/Widths", "/FontDescriptor"):
            if key_name not in font:
                found.add("6.2.10.2-4/5/6", f"{where}: TrueType font without {key_name}")
                return None
        if len(font["/Widths"]) != int(font["/LastChar"]) - int(font["/FirstChar"]) + 1:
            found.add("6.2.10.2-6", f"{where}: Widths has the wrong length")
        descriptor = font["/FontDescriptor"]
        program = descriptor.get("/FontFile2")
        if not isinstance(program, pikepdf.Stream):
            found.add("6.2.10.4.1-1", f"{where}: {font.get('/BaseFont')} is not embedded")
            return None
        symbolic = bool(int(descriptor.get("/Flags", 0)) & 4)
        face = TTFont(io.BytesIO(program.read_bytes()))
        subtables = {(t.platformID, t.platEncID): t for t in face["cmap"].tables}
        if symbolic:
            if "/Encoding" in font:
                found.add("6.2.10.6-3", f"{where}: symbolic TrueType font with /Encoding")
            table = subtables.get((3, 0)) or subtables.get((1, 0))
            if table is None:
                found.add("6.2.10.6-4", f"{where}: symbolic font without a (3,0) or (1,0) cmap")
                return None
            offset = 0xF000 if (3, 0) in subtables else 0
            cmap = {code: table.cmap.get(code + offset) for code in range(256)}
        else:
            found.add("6.2.10.6-1/2 (not checked)", f"{where}: non-symbolic TrueType font")
            return None
        unicode = to_unicode_map(font["/ToUnicode"].read_bytes()) if "/ToUnicode" in font \
            else None
        self._programs[key] = (cmap, face, unicode)
        return self._programs[key]


def to_unicode_map(cmap: bytes) -> dict[int, str]:
    """code -> text of a one-byte ToUnicode CMap (bfchar and bfrange sections)."""
    text = cmap.decode("latin-1")
    found: dict[int, str] = {}

    def utf16(hexdigits: str) -> str:
        return bytes.fromhex(hexdigits).decode("utf-16-be", errors="replace")

    for section in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for code, value in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", section):
            found[int(code, 16)] = utf16(value)
    for section in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for low, high, value in re.findall(
                r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", section):
            start = int(value, 16)
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                found[code] = chr(start + offset)
    return found
