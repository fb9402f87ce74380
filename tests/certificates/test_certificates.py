"""Payment certificates (R13, R14): issue, availability, download, verification, rotation, revocation."""

from __future__ import annotations

import io
import json
import logging
import threading

import pypdfium2
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from miniapp_api.certificates import service
from miniapp_api.certificates.token import generate_private_key_file, key_id_of, sign_token
from miniapp_api.core.config import ConfigError
from models import Certificate, Resident, db
from policy import workdays
from tests.support import factories
from tests.support.certificates import (
    AVAILABLE_AT,
    ID_NUMBER,
    NAME,
    PAID_AT,
    at,
    auth,
    freeze,
    issue,
    issued,
    seed,
    token_of,
)
from tests.support.problems import assert_problem

BASE = "http://testserver"  # PUBLIC_BASE_URL in tests


@pytest.fixture(autouse=True)
def fresh_fallback_warnings(monkeypatch):
    monkeypatch.setattr(workdays, "_warned_years", set())


def verify(client, token: str):
    return client.get(f"/api/v1/verify/{token}")


def qr_texts(image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


# Issuing -----------------------------------------------------------------------------------------


def test_issue_returns_the_certificate_links(app, client):
    world = seed(app)
    certificate = issued(app, client, world)
    number = certificate["certificate_no"]
    assert certificate["verify_url"].startswith("http://testserver/verify/")
    assert certificate["pdf_url"] == f"http://testserver/api/v1/certificates/{number}.pdf"
    assert certificate["qr_url"] == f"http://testserver/api/v1/certificates/{number}/qr.png"
    assert certificate["issued_at"] == AVAILABLE_AT


def test_issuing_the_same_year_again_returns_the_existing_certificate(app, client):
    world = seed(app)
    first = issued(app, client, world)
    freeze(app, "2027-04-01T09:00:00+08:00")
    again = issue(client, world)
    assert again.status_code == 201 and again.get_json() == first
    with app.app_context():
        assert len(db.session.scalars(db.select(Certificate)).all()) == 1


def test_no_paid_order_for_the_year_is_no_payment(app, client):
    world = seed(app)
    freeze(app, AVAILABLE_AT)
    assert_problem(issue(client, world, year=2026), 404, "no_payment")


def test_a_pending_order_is_not_a_payment(app, client):
    world = seed(app, paid_at=None)
    with app.app_context():
        order = factories.paid_order(db.session.get(Resident, world.owner_row_id))
        order.status, order.paid_at = "pending", None
        db.session.commit()
    freeze(app, AVAILABLE_AT)
    assert_problem(issue(client, world), 404, "no_payment")


@pytest.mark.parametrize("kind", ["back_payment", "proxy", "lump_sum"])
def test_every_kind_of_paid_order_is_certified(app, client, kind):
    world = seed(app, kind=kind)
    assert issued(app, client, world)["certificate_no"]


@pytest.mark.parametrize("body", [{}, {"year": "2027"}, {"year": 2027, "extra": 1}, {"year": 10**12}])
def test_invalid_bodies_are_rejected(app, client, body):
    world = seed(app)
    response = client.post(
        f"/api/v1/residents/{world.resident_id}/certificates", json=body, headers=auth(client, world.owner)
    )
    assert_problem(response, 422, "validation_error")


def test_login_comes_before_validation(app, client):
    world = seed(app)
    response = client.post(f"/api/v1/residents/{world.resident_id}/certificates", json={"bad": 1})
    assert_problem(response, 401, "unauthorized")


# The fifth working day -----------------------------------------------------------------------------


def test_one_second_before_the_fifth_working_day_is_not_yet_available(app, client):
    world = seed(app)
    freeze(app, "2027-03-08T23:59:59+08:00")
    problem = assert_problem(issue(client, world), 409, "not_yet_available")
    assert problem["available_at"] == AVAILABLE_AT


def test_at_midnight_of_the_fifth_working_day_it_is_available(app, client):
    world = seed(app)
    freeze(app, AVAILABLE_AT)
    assert issue(client, world).status_code == 201


def test_midnight_is_beijing_time_whatever_the_offset_of_now(app, client):
    world = seed(app)
    freeze(app, "2027-03-08T15:59:59+00:00")
    assert issue(client, world).status_code == 409
    freeze(app, "2027-03-08T16:00:00+00:00")
    assert issue(client, world).status_code == 201


def test_2027_falls_back_to_weekends_only_and_logs_it(app, client, caplog):
    world = seed(app, paid_at=at("2027-04-30T12:00:00+08:00"))  # Friday; 2027 has no holiday data yet
    freeze(app, "2027-05-06T12:00:00+08:00")
    with caplog.at_level(logging.WARNING, logger="policy.workdays"):
        problem = assert_problem(issue(client, world), 409, "not_yet_available")
    assert problem["available_at"] == "2027-05-07T00:00:00+08:00"  # Mon 3 .. Fri 7
    assert any(r.name == "policy.workdays" and "2027" in r.getMessage() for r in caplog.records)


def test_statutory_holidays_and_adjusted_working_days_count(app, client):
    # 2025-10-01..08 are holidays, Saturday 2025-10-11 is an adjusted working day.
    world = seed(app, paid_at=at("2025-09-30T18:00:00+08:00"), year=2025)
    freeze(app, "2025-10-13T23:59:59+08:00")
    assert (
        assert_problem(issue(client, world, year=2025), 409, "not_yet_available")["available_at"]
        == "2025-10-14T00:00:00+08:00"
    )


def test_configured_overrides_come_first(make_app, tmp_path):
    overrides = tmp_path / "calendar.json"
    overrides.write_text(json.dumps({"2027-03-05": False}))  # make Friday a holiday
    app = make_app(CERT_CALENDAR_OVERRIDES=str(overrides))
    world = seed(app)
    freeze(app, "2027-03-09T23:59:59+08:00")
    problem = assert_problem(issue(app.test_client(), world), 409, "not_yet_available")
    assert problem["available_at"] == "2027-03-10T00:00:00+08:00"


def test_overrides_may_be_given_as_a_mapping_and_make_a_saturday_work(make_app):
    app = make_app(CERT_CALENDAR_OVERRIDES={"2027-03-06": True})
    world = seed(app)
    freeze(app, "2027-03-08T00:00:00+08:00")
    assert issue(app.test_client(), world).status_code == 201


@pytest.mark.parametrize("content", ['{"2027-13-01": false}', '{"2027-03-05": "no"}', "[1]", "not json"])
def test_bad_overrides_stop_start_up(make_app, tmp_path, content):
    path = tmp_path / "calendar.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="CERT_CALENDAR_OVERRIDES"):
        make_app(CERT_CALENDAR_OVERRIDES=str(path))


# Who may issue and download (R14) ----------------------------------------------------------------


def test_a_stranger_gets_not_found(app, client):
    world = seed(app)
    freeze(app, AVAILABLE_AT)
    assert_problem(issue(client, world, world.stranger), 404, "not_found")


def test_a_pending_supporter_gets_not_found(app, client):
    world = seed(app)
    freeze(app, AVAILABLE_AT)
    assert_problem(issue(client, world, world.users["pending"]), 404, "not_found")


def test_an_active_supporter_may_issue_and_download(app, client):
    world = seed(app)
    child = world.users["active"]
    freeze(app, AVAILABLE_AT)
    certificate = issue(client, world, child).get_json()
    pdf = client.get(f"/api/v1/certificates/{certificate['certificate_no']}.pdf", headers=auth(client, child))
    assert pdf.status_code == 200


def test_an_unknown_resident_is_not_found(app, client):
    world = seed(app)
    world.resident_id = "r_doesnotexist"
    assert_problem(issue(client, world), 404, "not_found")


@pytest.mark.parametrize("suffix", [".pdf", "/qr.png"])
def test_downloads_are_not_found_for_strangers_and_pending_supporters(app, client, suffix):
    world = seed(app)
    url = f"/api/v1/certificates/{issued(app, client, world)['certificate_no']}{suffix}"
    assert_problem(client.get(url, headers=auth(client, world.stranger)), 404, "not_found")
    assert_problem(client.get(url, headers=auth(client, world.users["pending"])), 404, "not_found")
    assert_problem(client.get(url), 401, "unauthorized")


@pytest.mark.parametrize("number", ["SXBY-0000-0000-0000-0000", "not-a-number", "sxby-7kq4-m2xd-93tf-a1bc"])
def test_unknown_certificate_numbers_are_not_found(app, client, number):
    world = seed(app)
    for url in (f"/api/v1/certificates/{number}.pdf", f"/api/v1/certificates/{number}/qr.png"):
        assert_problem(client.get(url, headers=auth(client, world.owner)), 404, "not_found")


# The QR code and the PDF -------------------------------------------------------------------------


def test_qr_png_decodes_to_the_verify_url(app, client):
    world = seed(app)
    certificate = issued(app, client, world)
    response = client.get(certificate["qr_url"].removeprefix(BASE), headers=auth(client, world.owner))
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert qr_texts(Image.open(io.BytesIO(response.data))) == [certificate["verify_url"]]


def test_pdf_shows_the_payment_and_its_qr_decodes_to_the_verify_url(app, client):
    world = seed(app)
    certificate = issued(app, client, world)
    response = client.get(certificate["pdf_url"].removeprefix(BASE), headers=auth(client, world.owner))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    document = pypdfium2.PdfDocument(response.data)
    page = document[0]
    text = page.get_textpage().get_text_range()
    urls = qr_texts(page.render(scale=2).to_pil())
    document.close()
    assert urls == [certificate["verify_url"]]
    for expected in [
        certificate["certificate_no"],
        NAME,
        "1401**********0017",
        "2027年度",
        "1,000.00 元",
        "200.00 元",
        "50.00 元",
        "2027年3月2日",
        "微信支付",
        "2027年3月9日",
    ]:
        assert expected in text, expected
    assert ID_NUMBER not in text


def test_pdf_and_qr_are_rendered_once_then_served_from_storage(app, client, monkeypatch):
    world = seed(app)
    certificate = issued(app, client, world)
    headers = auth(client, world.owner)
    first = {
        url: client.get(certificate[url].removeprefix(BASE), headers=headers).data for url in ("pdf_url", "qr_url")
    }

    def no_rendering(*args):
        raise AssertionError("rendered again")

    monkeypatch.setattr(service, "render_certificate_pdf", no_rendering)
    monkeypatch.setattr(service, "qr_matrix", no_rendering)
    monkeypatch.setattr(service, "png_of", no_rendering)
    for url, data in first.items():
        assert client.get(certificate[url].removeprefix(BASE), headers=headers).data == data
    with app.app_context():
        stored = db.session.scalar(
            db.select(Certificate).where(Certificate.certificate_no == certificate["certificate_no"])
        )
        assert (stored.pdf, stored.qr_png) == (first["pdf_url"], first["qr_url"])


def test_the_verify_url_is_as_short_as_the_signature_allows(app, client):
    world = seed(app)
    token = token_of(issued(app, client, world))
    key_id, body = token.split(".")
    # 64 signature bytes and the certificate number's 80 bits, in unpadded base64url
    assert len(key_id) == 8 and len(body) == -(-(64 + 10) * 4 // 3)


# Public verification ----------------------------------------------------------------------------


def test_verification_shows_masked_data_only(app, client):
    world = seed(app)
    certificate = issued(app, client, world)
    response = verify(client, token_of(certificate))
    assert response.get_json() == {
        "valid": True,
        "status": "valid",
        "certificate_no": certificate["certificate_no"],
        "name": "王*国",
        "id_number": "1401**********0017",
        "year": 2027,
        "amount_fen": 100_000,
        "paid_at": "2027-03-02T10:00:00+08:00",
        "issued_at": AVAILABLE_AT,
        "revoked_at": None,
    }
    body = response.get_data(as_text=True)
    assert ID_NUMBER not in body and NAME not in body and json.dumps(NAME) not in body


def test_verification_needs_no_login(app, client):
    world = seed(app)
    token = token_of(issued(app, client, world))
    assert app.test_client().get(f"/api/v1/verify/{token}").get_json()["valid"] is True


def _altered(token: str) -> list[str]:
    key_id, body = token.split(".")
    flip = lambda text, i: text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]  # noqa: E731
    return [
        flip(token, 0),
        f"{key_id}.{flip(body, 5)}",
        f"{key_id}.{flip(body, len(body) - 3)}",
        token[:-1],
        token + "A",
        token.replace(".", ""),
        "garbage",
        "a" * 2000,
    ]


def test_altered_or_forged_tokens_are_not_valid(app, client):
    world = seed(app)
    token = token_of(issued(app, client, world))
    for altered in _altered(token):
        response = verify(client, altered)
        assert response.status_code == 200 and response.get_json() == {"valid": False}, altered


def test_a_token_from_another_key_or_for_an_unknown_number_is_not_valid(app, client):
    world = seed(app)
    number = issued(app, client, world)["certificate_no"]
    stranger_key = Ed25519PrivateKey.generate()
    forged = sign_token(stranger_key, key_id_of(stranger_key.public_key()), number)
    with app.app_context():
        signing = service.settings().signing
        unknown = sign_token(signing.private_key, signing.key_id, "SXBY-0000-0000-0000-0000")
    assert verify(client, forged).get_json() == {"valid": False}
    assert verify(client, unknown).get_json() == {"valid": False}


def test_verification_is_rate_limited_per_address(make_app):
    client = make_app(CERT_VERIFY_PER_MINUTE=3).test_client()
    # Windows run on real time; eight tries exceed three per window even across a window boundary.
    responses = [client.get("/api/v1/verify/x.y") for _ in range(8)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1
    assert_problem(limited[0], 429, "rate_limited")
    other = client.get("/api/v1/verify/x.y", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_the_verify_page_is_served_with_its_assets(app, client):
    page = client.get("/verify/anything.at-all")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    for asset, mimetype in (("verify.js", "text/javascript"), ("verify.css", "text/css")):
        response = client.get(f"/verify/assets/{asset}")
        assert response.status_code == 200 and response.mimetype == mimetype
        response.close()
    page.close()


# Key rotation -----------------------------------------------------------------------------------


def _rotated(make_app, old_app, tmp_path, previous=True):
    """An app signing with a new key, trusting the old one when `previous`."""
    runner = old_app.test_cli_runner()
    entry = runner.invoke(args=["certificates", "public-key"]).output
    path = tmp_path / "previous_keys.json"
    path.write_text(entry)
    generate_private_key_file(tmp_path / "new_key.pem")
    extra = {"CERT_PREVIOUS_PUBLIC_KEYS": str(path)} if previous else {}
    return make_app(CERT_SIGNING_KEY=str(tmp_path / "new_key.pem"), **extra)


def test_after_rotation_old_certificates_still_verify_and_new_ones_use_the_new_key(app, client, make_app, tmp_path):
    world = seed(app)
    old = issued(app, client, world)
    new_app = _rotated(make_app, app, tmp_path)
    new_client = new_app.test_client()
    assert verify(new_client, token_of(old)).get_json()["valid"] is True
    freeze(new_app, AVAILABLE_AT)
    assert issue(new_client, world).get_json() == old  # verify_url is stored, so it stays the same
    with app.app_context():
        db.session.execute(db.update(Certificate).values(revoked_at=PAID_AT))
        db.session.commit()
    fresh = issue(new_client, world).get_json()
    with new_app.app_context():
        new_key_id = service.settings().signing.key_id
    assert token_of(fresh).startswith(new_key_id + ".") and not token_of(old).startswith(new_key_id + ".")
    assert verify(new_client, token_of(fresh)).get_json()["valid"] is True


def test_without_the_previous_key_old_certificates_no_longer_verify(app, client, make_app, tmp_path):
    world = seed(app)
    old = issued(app, client, world)
    new_app = _rotated(make_app, app, tmp_path, previous=False)
    assert verify(new_app.test_client(), token_of(old)).get_json() == {"valid": False}


def test_previous_keys_must_carry_their_own_key_id(make_app, tmp_path):
    other = Ed25519PrivateKey.generate().public_key()
    from cryptography.hazmat.primitives import serialization

    pem = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ConfigError, match="CERT_PREVIOUS_PUBLIC_KEYS"):
        make_app(CERT_PREVIOUS_PUBLIC_KEYS={"deadbeef": pem})
    with pytest.raises(ConfigError, match="CERT_PREVIOUS_PUBLIC_KEYS"):
        make_app(CERT_PREVIOUS_PUBLIC_KEYS={key_id_of(other): "not a pem"})


# Revocation --------------------------------------------------------------------------------------


def test_revoked_certificates_verify_as_revoked(app, client):
    world = seed(app)
    certificate = issued(app, client, world)
    number = certificate["certificate_no"]
    result = app.test_cli_runner().invoke(args=["certificates", "revoke", number, "--reason", "issued in error"])
    assert result.exit_code == 0 and f"{number} revoked at {AVAILABLE_AT}" in result.output
    body = verify(client, token_of(certificate)).get_json()
    assert body["valid"] is False and body["status"] == "revoked" and body["revoked_at"] == AVAILABLE_AT
    assert body["name"] == "王*国" and body["id_number"] == "1401**********0017"
    assert_problem(
        client.get(f"/api/v1/certificates/{number}.pdf", headers=auth(client, world.owner)), 404, "certificate_revoked"
    )


def test_after_revocation_the_year_can_be_issued_anew(app, client):
    world = seed(app)
    old = issued(app, client, world)
    app.test_cli_runner().invoke(args=["certificates", "revoke", old["certificate_no"], "--reason", "lost"])
    fresh = issue(client, world)
    assert fresh.status_code == 201 and fresh.get_json()["certificate_no"] != old["certificate_no"]
    assert verify(client, token_of(old)).get_json()["status"] == "revoked"


def test_revoking_twice_keeps_the_first_reason(app, client):
    world = seed(app)
    number = issued(app, client, world)["certificate_no"]
    runner = app.test_cli_runner()
    runner.invoke(args=["certificates", "revoke", number, "--reason", "first"])
    again = runner.invoke(args=["certificates", "revoke", number, "--reason", "second"])
    assert again.exit_code == 0 and again.output.strip().endswith(": first")


@pytest.mark.parametrize(
    "args", [["SXBY-0000-0000-0000-0000", "--reason", "x"], ["whatever", "--reason", "x"], ["SXBY-0000-0000-0000-0000"]]
)
def test_revoke_refuses_unknown_numbers_and_a_missing_reason(app, args):
    result = app.test_cli_runner().invoke(args=["certificates", "revoke", *args])
    assert result.exit_code != 0


def test_revoke_refuses_a_blank_reason(app, client):
    world = seed(app)
    certificate = issued(app, client, world)
    result = app.test_cli_runner().invoke(
        args=["certificates", "revoke", certificate["certificate_no"], "--reason", "  "]
    )
    assert result.exit_code != 0
    assert verify(client, token_of(certificate)).get_json()["valid"] is True


# Concurrency ------------------------------------------------------------------------------------


def test_concurrent_issues_of_one_year_create_one_certificate(app, monkeypatch):
    world = seed(app)
    freeze(app, AVAILABLE_AT)
    barrier = threading.Barrier(2, timeout=10)
    real = service.valid_certificate
    waiting = threading.local()

    def racing(resident, year):
        found = real(resident, year)
        if not getattr(waiting, "done", False):  # both requests look before either inserts
            waiting.done = True
            barrier.wait()
        return found

    monkeypatch.setattr(service, "valid_certificate", racing)
    results = []

    def request():
        response = issue(app.test_client(), world)
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [201, 201]
    assert results[0][1] == results[1][1]
    with app.app_context():
        assert len(db.session.scalars(db.select(Certificate)).all()) == 1


def test_openapi_documents_the_certificate_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/residents/{resident_id}/certificates",
        "/api/v1/certificates/{certificate_no}.pdf",
        "/api/v1/certificates/{certificate_no}/qr.png",
        "/api/v1/verify/{token}",
    ):
        assert path in paths, path
