"""`flask --app wsgi residents unbind ID_NUMBER --reason ...` (API.md Operations): agency staff end a WeChat
binding; the user's tokens stop working at once, and the change is recorded with the reason."""

from __future__ import annotations

import pytest

from integrations.sandbox import demo_data
from integrations.sandbox.wechat import openid_for
from miniapp_api.identity import bindings
from models import BindingChange, WeChatUser, db
from policy import id_number
from tests.support.miniapp import login, verified, verify
from tests.support.problems import assert_problem

WANG = demo_data.by_key("parent_1958")
LI = demo_data.by_key("child_1985")
MASKED = id_number.mask(WANG["id_number"])


def changes(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.scalars(db.select(BindingChange).order_by(BindingChange.id)).all()
        return [(row.cause, row.from_user_id, row.to_user_id, row.reason) for row in rows]


def user_id(app, key: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(WeChatUser.id).where(WeChatUser.openid == openid_for(key)))


# --- The service ---------------------------------------------------------------------------------------


def test_unbind_ends_the_binding_and_every_token(app, client):
    headers, resident = verified(client, "parent_1958")
    second_token = login(client, "parent_1958")  # the same user on a second session
    with app.app_context():
        done = bindings.unbind(WANG["id_number"], "  lost phone, reported at the counter ")
    holder = user_id(app, "parent_1958")
    assert done == bindings.Unbinding(MASKED, resident["resident_id"], holder, done.changed_at)
    for token in (headers, second_token):
        assert_problem(client.get("/api/v1/me", headers=token), 401, "unauthorized")
    with app.app_context():
        user = db.session.get(WeChatUser, holder)
        assert user.resident_id is None and user.verified_at is None and user.token_generation == 1
    assert changes(app) == [
        ("real_name", None, holder, None),
        ("agency_unbind", holder, None, "lost phone, reported at the counter"),
    ]
    # The user may log in again (unverified), and the person may bind again with a face check.
    again = login(client, "parent_1958")
    assert client.get("/api/v1/me", headers=again).get_json()["verified"] is False
    assert verify(client, again, "parent_1958") == resident
    assert changes(app)[-1] == ("real_name", None, holder, None)


def test_unbind_takes_lower_case_x(app, client):
    verified(client, "child_1985")
    with app.app_context():
        assert bindings.unbind(LI["id_number"].lower(), "moved away").masked_id_number == id_number.mask(
            LI["id_number"]
        )


def test_unbind_of_someone_nobody_bound_is_refused(app, client):
    with app.app_context(), pytest.raises(bindings.UnbindRefused) as refused:
        bindings.unbind(WANG["id_number"], "why not")
    assert MASKED in str(refused.value) and WANG["id_number"] not in str(refused.value)
    assert changes(app) == []


def test_unbind_twice_is_refused_the_second_time(app, client):
    verified(client, "parent_1958")
    with app.app_context():
        bindings.unbind(WANG["id_number"], "first")
        with pytest.raises(bindings.UnbindRefused, match="no WeChat binding") as refused:
            bindings.unbind(WANG["id_number"], "second")
    assert WANG["id_number"] not in str(refused.value)
    assert [cause for cause, *_ in changes(app)] == ["real_name", "agency_unbind"]


@pytest.mark.parametrize("number, reason", [("140105195809120018", "typo"), (WANG["id_number"], "   ")])
def test_unbind_refuses_bad_input(app, client, number, reason):
    verified(client, "parent_1958")
    with app.app_context(), pytest.raises(bindings.UnbindRefused) as refused:
        bindings.unbind(number, reason)
    assert number not in str(refused.value)
    assert len(changes(app)) == 1


# --- The command -----------------------------------------------------------------------------------------


def test_the_command_unbinds_and_says_what_it_did(app, client):
    headers, resident = verified(client, "parent_1958")
    result = app.test_cli_runner().invoke(args=["residents", "unbind", WANG["id_number"], "--reason", "lost phone"])
    assert result.exit_code == 0, result.output
    assert MASKED in result.output and resident["resident_id"] in result.output and "lost phone" in result.output
    assert WANG["id_number"] not in result.output
    assert_problem(client.get("/api/v1/me", headers=headers), 401, "unauthorized")
    assert changes(app)[-1][0] == "agency_unbind"


@pytest.mark.parametrize(
    "args, words",
    [
        ([WANG["id_number"], "--reason", "no such binding"], "no resident"),
        ([LI["id_number"], "--reason", "no binding"], "no WeChat binding"),
        (["140105195809120018", "--reason", "check digit"], "not a valid ID number"),
    ],
    ids=["unknown-person", "not-bound", "invalid-number"],
)
def test_the_command_explains_a_refusal_with_a_nonzero_exit(app, client, args, words):
    with app.app_context():  # child_1985 is a resident (linked to as a parent would be) but not bound
        from tests.support import factories

        factories.resident(LI["id_number"], name=LI["name"])
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["residents", "unbind", *args])
    assert result.exit_code == 1 and words in result.output, result.output
    assert args[0] not in result.output and id_number.mask(args[0]) in result.output
    assert changes(app) == []


@pytest.mark.parametrize("reason", [[], ["--reason", "  "]], ids=["missing", "blank"])
def test_the_command_needs_a_reason(app, client, reason):
    verified(client, "parent_1958")
    result = app.test_cli_runner().invoke(args=["residents", "unbind", WANG["id_number"], *reason])
    assert result.exit_code == 2 and "--reason" in result.output
    assert WANG["id_number"] not in result.output
    assert len(changes(app)) == 1
