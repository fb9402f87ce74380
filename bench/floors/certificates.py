"""Floors of the certificates: rendering one PDF page with reportlab and one QR code (issuing), and
one Ed25519 check plus one keyed SELECT answered as a small JSON (verifying). The QR code is the
app's own (its fixed mask included), drawn on the page as the app draws it and also made a PNG (the
app stores one beside the PDF), and importing the app's `certificates.pdf` (for its font) sets
reportlab's streams to skip ASCII85 as the app's do, so the floor gets every speed-up the app has there.

    gunicorn -c gunicorn.conf.py bench.floors.certificates:app   (DATABASE_URL, CERT_SIGNING_KEY)
"""

from __future__ import annotations

import functools
import io
import os

from flask import Flask, Response, jsonify
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from bench.floors.connection import connection
from miniapp_api.certificates import qr
from miniapp_api.certificates.pdf import CJK_FONT, FONT_FILE
from miniapp_api.certificates.token import load_private_key, verify_token

app = Flask(__name__)
pdfmetrics.registerFont(TTFont(CJK_FONT, str(FONT_FILE)))  # once, before gunicorn forks (like the app)


@functools.cache
def _public_keys() -> dict:
    from miniapp_api.certificates.token import key_id_of

    key = load_private_key(os.environ["CERT_SIGNING_KEY"]).public_key()
    return {key_id_of(key): key}


@app.get("/floor/certificate/<certificate_no>")
def certificate(certificate_no: str):
    """One page: a title and a line of Chinese text in the embedded font, and the QR code of a link."""
    modules = qr.qr_matrix(f"http://127.0.0.1:8000/verify/{certificate_no}{'x' * 100}")  # the app's, same length
    qr.png_of(modules)  # made and dropped: the app makes the same PNG to store beside the PDF
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True, initialFontName=CJK_FONT)
    canvas.setFont(CJK_FONT, 20)
    canvas.drawString(72, 760, "城乡居民补充养老保险缴费证明")
    canvas.setFont(CJK_FONT, 12)
    canvas.drawString(72, 730, f"证明编号：{certificate_no} 王建国 1,000.00 元 2027年3月2日 微信支付")
    qr.draw(canvas, modules, 72, 500, 128)
    canvas.showPage()
    canvas.save()
    return Response(buffer.getvalue(), mimetype="application/pdf")


@app.get("/api/v1/verify/<token>")
def verify(token: str):
    number = verify_token(_public_keys(), token)
    row = (
        connection()
        .execute(
            "SELECT certificate_no, year, issued_at, revoked_at FROM certificates WHERE certificate_no = %s", (number,)
        )
        .fetchone()
    )
    if row is None:
        return jsonify(valid=False)
    return jsonify(valid=row[3] is None, certificate_no=row[0], year=row[1], issued_at=row[2].isoformat())


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
