from __future__ import annotations

import io
import secrets

import zxingcpp
from PIL import Image

from miniapp_api.certificates.qr import qr_png

URL = (
    "http://127.0.0.1:8000/verify/3f9a0c1e.FxR310L6Tko2dFEckCbxpGk4KYV0-Cr37PpRSlRAP6H1hh0BTRM39d"
    "mXiVCUcCejtcBRnZVKmCTJ9X9FbR_7DVNYQlktSEcwRC1BTU5BLVgwU00tVkRSWg"
)


def decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image) if result.format == zxingcpp.BarcodeFormat.QRCode]


def test_png_decodes_back_to_the_url():
    png = qr_png(URL)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        assert decode(image) == [URL]


def test_error_correction_level_m():
    with Image.open(io.BytesIO(qr_png(URL))) as image:
        (result,) = zxingcpp.read_barcodes(image)
    assert result.ec_level == "M"


def test_codes_of_random_links_decode_at_every_size():
    """The fixed mask costs nothing in readability: 30 random tokens, down to 3 pixels a module."""
    for _ in range(30):
        url = f"http://127.0.0.1:8000/verify/{secrets.token_hex(4)}.{secrets.token_urlsafe(74)[:99]}"
        for box_size in (3, 10):
            with Image.open(io.BytesIO(qr_png(url, box_size=box_size))) as image:
                assert decode(image) == [url], (url, box_size)


def test_quiet_zone_and_module_size():
    with Image.open(io.BytesIO(qr_png(URL, box_size=10))) as image:
        width, height = image.size
        assert width == height and width % 10 == 0
        assert image.convert("L").crop((0, 0, 40, width)).getextrema() == (255, 255)  # 4 white modules
