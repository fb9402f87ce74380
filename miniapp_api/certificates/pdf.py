"""The printable payment certificate (缴费证明): one A4 page in Chinese with a verification QR code.

The holder's name is printed in full (banks and agencies match it against the ID card), the ID
number only masked (API.md masking: the paper travels, and the QR page shows it masked too).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from dataclasses import dataclass
from importlib.resources import files

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from miniapp_api.certificates import qr as qr_code
from policy.id_number import mask

TITLE = "城乡居民补充养老保险缴费证明"
# Noto Sans SC (SIL Open Font License), installed from the locks by `justmytype-intl-cjk`; reportlab
# embeds the subset of glyphs each certificate uses, so every viewer shows the same page.
CJK_FONT = "NotoSansSC"
FONT_FILE = files("justmytype_intl_cjk") / "fonts" / "ofl" / "notosanssc" / "NotoSansSC[wght].ttf"
LATIN_FONT = CJK_FONT  # its Latin glyphs too: one embedded font, nothing left to the viewer
# reportlab's pure-Python ASCII85 pass over every stream (a text-safe PDF, which nobody needs)
# took a third of the rendering; streams stay Flate-compressed, as binary.
rl_config.useA85 = 0
# The variable font's default instance, the one reportlab embeds, is its thinnest (wght 100): too faint
# on paper for old eyes. Text is filled and stroked (render mode 2) with a line of this share of the
# font size, which gives about the regular weight's stems (Noto Sans SC Regular: 0.08 em, Thin: 0.02).
STROKE_PER_SIZE = 0.045
FILL_AND_STROKE = 2
QR_SIZE = 45 * mm
MARGIN = 25 * mm
CHANNEL_LABELS = {
    "wechat": "微信支付",
    "bank_app": "手机银行",
    "e_tax": "电子税务局",
    "bank_counter": "银行柜台",
    "pos": "POS机刷卡",
    "social_security_card": "社会保障卡",
}


@dataclass(frozen=True)
class CertificateData:
    """Everything printed on one certificate; money in integer fen, `id_number` unmasked (masked here)."""

    certificate_no: str
    holder_name: str
    id_number: str
    region_name: str
    year: int
    amount_fen: int
    government_subsidy_fen: int
    paid_on: dt.date
    channel: str
    issued_on: dt.date
    verify_url: str
    collective_subsidy_fen: int = 0


def format_yuan(fen: int) -> str:
    """`100000` → `1,000.00 元`, by integer arithmetic only."""
    if not isinstance(fen, int):
        raise TypeError("money is integer fen")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan:,}.{cents:02d} 元"


def format_date(day: dt.date) -> str:
    """`2027年3月2日`."""
    return f"{day.year}年{day.month}月{day.day}日"


def channel_label(code: str) -> str:
    """The Chinese name of a payment channel code; an unknown code is shown as it is."""
    return CHANNEL_LABELS.get(code, code)


def certificate_rows(data: CertificateData) -> list[tuple[str, str]]:
    """The label/value lines of the certificate, in print order."""
    collective = [("集体补助", format_yuan(data.collective_subsidy_fen))] if data.collective_subsidy_fen else []
    total = data.amount_fen + data.government_subsidy_fen + data.collective_subsidy_fen
    return [
        ("姓名", data.holder_name),
        ("公民身份号码", mask(data.id_number)),
        ("参保地", data.region_name),
        ("缴费年度", f"{data.year}年度"),
        ("个人缴费", format_yuan(data.amount_fen)),
        ("政府补贴", format_yuan(data.government_subsidy_fen)),
        *collective,
        ("记入个人账户合计", format_yuan(total)),
        ("缴费日期", format_date(data.paid_on)),
        ("缴费渠道", channel_label(data.channel)),
        ("开具日期", format_date(data.issued_on)),
    ]


@functools.cache
def register_font() -> None:
    """Load the font once per process (about 0.3 s); gunicorn's preloaded app does it before forking."""
    pdfmetrics.registerFont(TTFont(CJK_FONT, str(FONT_FILE)))


def render_certificate_pdf(data: CertificateData, qr: qr_code.Matrix | None = None) -> bytes:
    """The certificate as a one-page A4 PDF; `qr` is the `qr_matrix` of `data.verify_url` when already made."""
    register_font()
    qr = qr if qr is not None else qr_code.qr_matrix(data.verify_url)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True, initialFontName=CJK_FONT)
    canvas.setTitle(f"{TITLE} {data.certificate_no}")
    y = _draw_heading(canvas, data.certificate_no)
    y = _draw_rows(canvas, certificate_rows(data), y)
    _draw_verification(canvas, data.verify_url, qr, y)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _text(canvas: Canvas, x: float, y: float, text: str, size: float, centred: bool = False) -> None:
    """`text` at the regular weight (see STROKE_PER_SIZE); `centred` on x."""
    canvas.setFont(CJK_FONT, size)
    canvas.setLineWidth(size * STROKE_PER_SIZE)
    if centred:
        x -= pdfmetrics.stringWidth(text, CJK_FONT, size) / 2
    canvas.drawString(x, y, text, mode=FILL_AND_STROKE)


def _draw_heading(canvas: Canvas, certificate_no: str) -> float:
    width, height = A4
    _text(canvas, width / 2, height - 30 * mm, TITLE, 20, centred=True)
    _text(canvas, MARGIN, height - 42 * mm, "证明编号：", 10)
    _text(canvas, MARGIN + 20 * mm, height - 42 * mm, certificate_no, 10)
    _text(canvas, MARGIN, height - 55 * mm, "兹证明下列人员已缴纳城乡居民补充养老保险费，明细如下：", 12)
    return height - 62 * mm


def _draw_rows(canvas: Canvas, rows: list[tuple[str, str]], top: float) -> float:
    """A two-column ruled table; returns the y below it."""
    width, _ = A4
    row_height = 10 * mm
    y = top
    for label, value in rows:
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, y, width - MARGIN, y)
        _text(canvas, MARGIN + 3 * mm, y - 6.5 * mm, label, 12)
        _text(canvas, MARGIN + 50 * mm, y - 6.5 * mm, value, 12)
        y -= row_height
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN, y, width - MARGIN, y)
    canvas.line(MARGIN + 47 * mm, top, MARGIN + 47 * mm, y)
    return y


def _draw_verification(canvas: Canvas, url: str, qr: qr_code.Matrix, top: float) -> None:
    """The QR code, with the link spelled out beside it for typing in by hand."""
    width, _ = A4
    qr_y = top - 10 * mm - QR_SIZE
    qr_code.draw(canvas, qr, MARGIN, qr_y, QR_SIZE)
    text_x = MARGIN + QR_SIZE + 8 * mm
    _text(canvas, text_x, top - 16 * mm, "扫描左侧二维码或访问以下网址，", 11)
    _text(canvas, text_x, top - 22 * mm, "可在线核验本证明真伪：", 11)
    for number, line in enumerate(_wrap(url, width - MARGIN - text_x, LATIN_FONT, 8)):
        _text(canvas, text_x, top - (30 + 4.5 * number) * mm, line, 8)
    _text(canvas, MARGIN, qr_y - 10 * mm, "注：为保护个人信息，公民身份号码已部分隐藏。", 9)


def _wrap(text: str, max_width: float, font: str, size: float) -> list[str]:
    """Split `text` anywhere (URLs have no spaces) into lines no wider than `max_width`, but never right
    after a `-`: read as a hyphenation, it would be dropped (by a reader typing the link, and by PDF
    text extraction)."""
    lines, width = [""], 0.0
    for char in text:
        char_width = pdfmetrics.stringWidth(char, font, size)
        if lines[-1] and width + char_width > max_width:
            kept = lines[-1].rstrip("-") or lines[-1]
            lines[-1:] = [kept, lines[-1][len(kept) :]]
            width = pdfmetrics.stringWidth(lines[-1], font, size)
        lines[-1] += char
        width += char_width
    return lines
