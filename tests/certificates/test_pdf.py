from __future__ import annotations

import ctypes
import dataclasses
import datetime as dt
import re
import shutil
import subprocess

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics

from miniapp_api.certificates.numbers import new_certificate_number
from miniapp_api.certificates.pdf import (
    CHANNEL_LABELS,
    LATIN_FONT,
    TITLE,
    CertificateData,
    _wrap,
    certificate_rows,
    format_yuan,
    register_font,
    render_certificate_pdf,
)
from miniapp_api.certificates.qr import BORDER, qr_matrix
from miniapp_api.certificates.token import key_id_of, sign_token, verify_token
from policy.id_number import make
from tests.support.skipping import unavailable

ID_NUMBER = make("140105", dt.date(1958, 9, 12), 1)
SIGNING_KEY = Ed25519PrivateKey.generate()


def certificate(**changes) -> CertificateData:
    number = new_certificate_number()
    token = sign_token(SIGNING_KEY, key_id_of(SIGNING_KEY.public_key()), number)
    data = CertificateData(
        certificate_no=number,
        holder_name="王建国",
        id_number=ID_NUMBER,
        region_name="太原市小店区",
        year=2027,
        amount_fen=100_000,
        government_subsidy_fen=20_000,
        paid_on=dt.date(2027, 3, 2),
        channel="bank_app",
        issued_on=dt.date(2027, 3, 10),
        verify_url=f"http://127.0.0.1:8000/verify/{token}",
    )
    return dataclasses.replace(data, **changes)


@pytest.fixture(scope="module")
def data() -> CertificateData:
    return certificate(collective_subsidy_fen=5_000)


@pytest.fixture(scope="module")
def page(data):
    document = pypdfium2.PdfDocument(render_certificate_pdf(data))
    yield document[0]
    document.close()


@pytest.fixture(scope="module")
def text(page) -> str:
    return page.get_textpage().get_text_range()


def test_one_a4_page(data):
    document = pypdfium2.PdfDocument(render_certificate_pdf(data))
    assert len(document) == 1
    width, height = document[0].get_size()
    assert (round(width / mm), round(height / mm)) == (210, 297)
    document.close()


def test_text_shows_the_facts_with_the_id_number_masked(data, text):
    for expected in [
        TITLE,
        data.certificate_no,
        "王建国",
        "1401**********0017",
        "太原市小店区",
        "2027年度",
        "1,000.00 元",
        "200.00 元",
        "集体补助",
        "50.00 元",
        "1,250.00 元",
        "2027年3月2日",
        "手机银行",
        "2027年3月10日",
    ]:
        assert expected in text, expected
    assert ID_NUMBER not in text and ID_NUMBER[4:14] not in text


def test_verify_url_is_spelled_out(data, text):
    assert data.verify_url in "".join(text.split())


def test_the_spelled_out_link_never_breaks_right_after_a_hyphen():
    register_font()
    text = "abc-d--" * 20
    lines = _wrap(text, pdfmetrics.stringWidth("abcdefghij", LATIN_FONT, 8), LATIN_FONT, 8)
    assert "".join(lines) == text and len(lines) > 5
    assert not any(line.endswith("-") for line in lines[:-1]), lines


def test_qr_on_the_rendered_page_opens_the_verify_url(data, page):
    image = page.render(scale=2).to_pil()
    urls = [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert urls == [data.verify_url]
    token = urls[0].rsplit("/", 1)[1]
    keys = {key_id_of(SIGNING_KEY.public_key()): SIGNING_KEY.public_key()}
    assert verify_token(keys, token) == data.certificate_no


def test_qr_code_is_drawn_45_mm_wide_with_its_quiet_zone(data, page):
    """Drawn as filled modules, not an embedded image; its dark modules span the 45 mm less the
    4-module quiet zone on each side."""
    assert list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])) == []
    paths = [obj.get_bounds() for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH])]
    left, bottom, right, top = max(paths, key=lambda box: (box[2] - box[0]) * (box[3] - box[1]))
    modules = len(qr_matrix(data.verify_url))
    dark_span = 45 * (modules - 2 * BORDER) / modules
    assert round((right - left) / mm, 1) == round(dark_span, 1) == round((top - bottom) / mm, 1)


def test_rows_without_collective_subsidy():
    rows = dict(certificate_rows(certificate()))
    assert "集体补助" not in rows
    assert rows["记入个人账户合计"] == "1,200.00 元"
    assert rows["公民身份号码"] == "1401**********0017"


def test_already_masked_id_number_stays_masked():
    assert dict(certificate_rows(certificate(id_number="1401**********0017")))["公民身份号码"] == "1401**********0017"


@pytest.mark.parametrize("code", sorted(CHANNEL_LABELS))
def test_every_channel_has_a_chinese_label(code):
    label = dict(certificate_rows(certificate(channel=code)))["缴费渠道"]
    assert label == CHANNEL_LABELS[code] and not label.isascii()


def test_unknown_channel_is_shown_as_is():
    assert dict(certificate_rows(certificate(channel="cash")))["缴费渠道"] == "cash"


@pytest.mark.parametrize(
    "fen, text",
    [
        (0, "0.00 元"),
        (5, "0.05 元"),
        (70, "0.70 元"),
        (100, "1.00 元"),
        (20_000, "200.00 元"),
        (100_000, "1,000.00 元"),
        (500_000, "5,000.00 元"),
        (123_456_789, "1,234,567.89 元"),
        (-1_050, "-10.50 元"),
    ],
)
def test_format_yuan(fen, text):
    assert format_yuan(fen) == text


def test_format_yuan_refuses_floats():
    with pytest.raises(TypeError):
        format_yuan(1000.0)


def test_the_one_font_is_an_embedded_subset_of_noto_sans_sc(data):
    pdf = render_certificate_pdf(data)
    fonts = set(re.findall(rb"/BaseFont /([A-Za-z0-9+-]+)", pdf))
    assert len(fonts) == 1 and re.fullmatch(rb"[A-Z]{6}\+NotoSansSC-\w+", fonts.pop())
    assert pdf.count(b"/FontFile2") == 1  # the TrueType glyphs travel with the file


def test_pdffonts_reports_every_font_embedded(data, tmp_path):
    if shutil.which("pdffonts") is None:
        unavailable("pdffonts (poppler-utils) is not installed")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(render_certificate_pdf(data))
    rows = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert rows and all(row.split()[-5:-3] == ["yes", "yes"] for row in rows), rows
    assert all("NotoSansSC" in row for row in rows)


def test_rendering_is_deterministic(data):
    assert render_certificate_pdf(data) == render_certificate_pdf(data)


def test_every_text_is_printed_at_the_regular_weight(page):
    """The embedded variable font's default instance is its thinnest: every text object is filled and
    stroked (a line of STROKE_PER_SIZE of its size), so the paper shows regular-weight strokes."""
    texts = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]))
    assert len(texts) > 20
    for obj in texts:
        assert pdfium_c.FPDFTextObj_GetTextRenderMode(obj.raw) == pdfium_c.FPDF_TEXTRENDERMODE_FILL_STROKE
        width = ctypes.c_float()
        assert pdfium_c.FPDFPageObj_GetStrokeWidth(obj.raw, ctypes.byref(width)) and width.value >= 8 * 0.04
