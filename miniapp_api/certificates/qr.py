"""QR codes for certificate verification links."""

from __future__ import annotations

import io

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

# Any of the eight masks makes a valid code; qrcode's search for the lowest-penalty one took 80 %
# of the time of a certificate. One fixed mask keeps the codes readable (tests decode random links
# off the rendered page); the code is rendered once per certificate and stored anyway.
MASK_PATTERN = 0
BORDER = 4  # modules of quiet zone


def qr_png(url: str, box_size: int = 10) -> bytes:
    """A PNG of the QR code for `url` (error correction M, 4-module quiet zone), black on white, 1 bit."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=BORDER, mask_pattern=MASK_PATTERN)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()  # with the quiet zone
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), pixels).convert("1").resize((size * box_size,) * 2, Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
