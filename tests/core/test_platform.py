"""Health, OpenAPI, the API page, structured logs and the migrations."""

import json
import logging
import re

import flask
import pytest
import sqlalchemy as sa

from miniapp_api.core.logs import JsonFormatter, mask_ids
from models import db
from tests.support import factories


def test_healthz_is_liveness_only(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_healthz_answers_without_a_database(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing-dir/x.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_no_request_reads_or_writes_a_cookie_session(app):
    with app.test_request_context("/api/v1/me", headers={"Cookie": "session=anything"}):
        assert dict(flask.session) == {}
        with pytest.raises(RuntimeError):
            flask.session["resident_id"] = 1


def test_openapi_document_is_served(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and spec["info"]["version"] == "v1"


def test_openapi_documents_every_api_route_from_its_schemas(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = set(spec["paths"])
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint not in ("api-docs.openapi_json", "docs.api_docs")
    }
    assert routes <= documented, routes - documented
    contributions = spec["paths"]["/api/v1/residents/{resident_id}/contributions"]["post"]
    body = contributions["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/Contribution")
    assert set(spec["components"]["schemas"]["Contribution"]["properties"]) == {"year", "tier_fen", "kind", "years"}


def test_api_page_fetches_nothing_from_the_internet(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "openapi.json" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


def _formatted(message, *args, exc_info=None):
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, args, exc_info)
    return json.loads(JsonFormatter().format(record))


def test_log_lines_are_json_with_masked_id_numbers():
    line = _formatted("bound %s and 14010519850301002x", "140105195809120017")
    assert line["message"] == "bound 1401**********0017 and 1401**********002x"
    assert line["level"] == "INFO" and "ts" in line


def test_tracebacks_are_masked_too():
    try:
        raise ValueError("140105195809120017")
    except ValueError:
        import sys

        line = _formatted("failed", exc_info=sys.exc_info())
    assert "140105195809120017" not in line["exception"] and "1401**********0017" in line["exception"]


def test_masking_leaves_other_numbers_alone():
    assert mask_ids("order 20270302000123 amount 100000") == "order 20270302000123 amount 100000"


def test_migrations_built_every_table(app):
    from models import db

    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables


def test_ledger_refuses_update_and_delete_in_the_database(app):
    from models import db

    with app.app_context():
        for statement in ("UPDATE ledger_entries SET amount_fen = 1", "DELETE FROM ledger_entries"):
            _insert_one_entry(db)
            try:
                db.session.execute(sa.text(statement))
                db.session.flush()
                raised = False
            except sa.exc.DatabaseError:
                raised = True
            db.session.rollback()
            assert raised, statement


def _insert_one_entry(db):
    resident_id = db.session.execute(
        sa.text(
            "INSERT INTO residents (public_id, id_number_encrypted, id_number_index, name, gender, birth_date,"
            " region_code, region_name, categories, supporter_capable, receiving_basic_pension, registry_synced_at)"
            " VALUES ('r_1', 'x', 'i', 'n', 'M', '1960-01-01', '140105', 'r', '[]', true, false, '2027-01-01 00:00:00')"
            " RETURNING id"
        )
    ).scalar_one()
    db.session.execute(
        sa.text(
            "INSERT INTO ledger_entries (resident_id, year, kind, amount_fen, funder, booked_at)"
            " VALUES (:r, 2027, 'personal', 100, 'self', '2027-01-01 00:00:00')"
        ),
        {"r": resident_id},
    )


def test_migrations_match_the_models(app):
    """`flask db migrate` would generate nothing: the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from models import db

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/openapi.json", "/api/v1/verify/x", "/api/v1/nowhere"])
def test_api_answers_are_never_cached_or_sniffed(client, path):
    response = client.get(path)
    assert response.headers["Cache-Control"] == "no-store", path
    assert response.headers["X-Content-Type-Options"] == "nosniff", path


def test_personal_data_answers_carry_the_headers(app, client):
    with app.app_context():
        owner = factories.resident()
        headers = factories.auth_header(factories.user(bound_to=owner))
        resident_id = owner.public_id
        db.session.commit()
    for path in ("/api/v1/me", f"/api/v1/residents/{resident_id}/account", f"/api/v1/residents/{resident_id}/ledger"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert (
            response.headers["Cache-Control"] == "no-store" and response.headers["X-Content-Type-Options"] == "nosniff"
        )
