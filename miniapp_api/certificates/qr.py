"""QR codes for certificate verification links: the modules, as a PNG, and drawn on a PDF page."""

from __future__ import annotations

import io
from itertools import groupby

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from reportlab.pdfgen.canvas import Canvas

# Any of the eight masks makes a valid code; qrcode's search for the lowest-penalty one took 80 %
# of the time of a certificate. One fixed mask keeps the codes readable (tests decode random links
# off the rendered page); the code is rendered once per certificate and stored anyway.
MASK_PATTERN = 0
BORDER = 4  # modules of quiet zone

Matrix = list[list[bool]]


def qr_matrix(url: str) -> Matrix:
    """The QR code of `url` (error correction M, 4-module quiet zone included): rows of modules, dark True."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=BORDER, mask_pattern=MASK_PATTERN)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def qr_png(url: str, box_size: int = 10) -> bytes:
    """A PNG of the QR code for `url`, black on white, 1 bit."""
    return png_of(qr_matrix(url), box_size)


def png_of(matrix: Matrix, box_size: int = 10) -> bytes:
    """The PNG of a `qr_matrix`, `box_size` pixels a module."""
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), pixels).convert("1").resize((size * box_size,) * 2, Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def draw(canvas: Canvas, matrix: Matrix, x: float, y: float, size: float) -> None:
    """The code as a `size`-wide square with its lower left corner at (x, y), its dark modules filled as
    one path of rectangles (a run of dark modules in a row is one): sharp at any zoom and in print, no
    seams between modules, and no image to decode and compress. The rectangles are written as PDF
    operators in module units (integers) under one scaling: reportlab's own `rect` formats every
    coordinate in pure Python, a fifth of a certificate's rendering for 600 of them."""
    module = size / len(matrix)
    rectangles = (
        f"{start} {number} {length} 1 re" for number, row in enumerate(matrix) for start, length in _dark_runs(row)
    )
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    canvas.transform(module, 0, 0, -module, x, y + size)  # a module is 1 x 1, rows run down from the top
    canvas.addLiteral("\n".join(rectangles) + "\nf")
    canvas.restoreState()


def _dark_runs(row: list[bool]) -> list[tuple[int, int]]:
    """(first module, length) of each run of dark modules in a row."""
    runs, start = [], 0
    for dark, modules in groupby(row):
        length = len(list(modules))
        if dark:
            runs.append((start, length))
        start += length
    return runs
