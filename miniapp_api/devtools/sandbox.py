"""`flask --app wsgi sandbox`: the sandbox counterparts (WeChat, identity, agency, tax bureau) as their own process.

The sandbox is configured from the API's configuration, so that the two agree without further set-up:
its clock starts at the API's `APP_NOW` (and stands still with it, so that callback signature
timestamps match the API's frozen clock), its tax bureau signs callbacks with the private half of the
key pair whose public half the API trusts (`instance/sandbox_tax_private_key.pem`, serial `sandbox-1`),
it expects the API's `TAX_API_KEY`, and its WeChat expects the API's appid and secret.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from integrations import tax_signature
from integrations.sandbox.app import create_sandbox_app
from miniapp_api.core import devkeys
from miniapp_api.core.clock import SHANGHAI, parse_instant

DEFAULT_PORT = 8001
DEFAULT_SPEEDUP = 60.0  # the tax bureau's 15 s first retry comes after 0.25 s


def sandbox_config(
    api_config: dict,
    instance: Path,
    *,
    now: str | None = None,
    frozen: bool | None = None,
    speedup: float = DEFAULT_SPEEDUP,
    private_key: str | Path | None = None,
    serial: str = devkeys.SANDBOX_TAX_SERIAL,
) -> dict:
    """The `create_sandbox_app` configuration matching an API configuration.

    `now` defaults to the API's `APP_NOW`; the sandbox's "today" is its date in Asia/Shanghai. The clock
    stands still unless `frozen` is False (a running clock drifts from a frozen API clock, and after
    300 s the API refuses the callbacks' timestamps).
    """
    now = now or api_config.get("APP_NOW") or None
    config = {
        "SANDBOX_SPEEDUP": float(speedup),
        "SANDBOX_TAX_API_KEY": api_config.get("TAX_API_KEY"),
        "SANDBOX_TAX_PRIVATE_KEY": str(private_key or default_private_key(instance)),
        "SANDBOX_TAX_KEY_SERIAL": serial,
        "SANDBOX_WECHAT_APPID": api_config.get("WECHAT_APPID"),
        "SANDBOX_WECHAT_SECRET": api_config.get("WECHAT_SECRET"),
    }
    if now:
        instant = parse_instant(now)
        config.update(
            SANDBOX_NOW=instant.isoformat(),
            SANDBOX_TODAY=instant.astimezone(SHANGHAI).date().isoformat(),
            SANDBOX_CLOCK_FROZEN=True if frozen is None else bool(frozen),
        )
    return config


def default_private_key(instance: Path) -> Path:
    """`instance/sandbox_tax_private_key.pem`, generated with its public half (`tax_public_keys.json`) if missing."""
    path = devkeys.sandbox_tax_private_key(instance)
    if not path.exists():
        if (instance / "tax_public_keys.json").exists():
            raise click.ClickException(
                f"{path} is missing but {instance / 'tax_public_keys.json'} exists (the API trusts a key the "
                "sandbox does not have): delete tax_public_keys.json to generate a new pair, or set "
                "SANDBOX_TAX_PRIVATE_KEY"
            )
        devkeys.tax_public_keys(instance)
    return path


def trust_problem(api_config: dict, private_key: str | Path, serial: str) -> str | None:
    """Why the API's `TAX_PUBLIC_KEYS` would refuse callbacks signed with `private_key`, or None."""
    keys_file = api_config.get("TAX_PUBLIC_KEYS")
    if not keys_file:
        return "the API has no TAX_PUBLIC_KEYS"
    try:
        trusted = tax_signature.load_public_keys(keys_file)
        ours = tax_signature.public_pem(tax_signature.load_private_key(private_key))
    except (OSError, ValueError) as exc:
        return str(exc)
    if serial not in trusted:
        return f"{keys_file} has no key with serial {serial!r}"
    if tax_signature.public_pem(trusted[serial]) != ours:
        return f"{keys_file} holds another public key under serial {serial!r}"
    return None


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--now",
    envvar="SANDBOX_NOW",
    default=None,
    help="The sandbox clock's start (ISO 8601 with offset) [env SANDBOX_NOW; default: the API's APP_NOW, "
    "else real time].",
)
@click.option(
    "--clock-frozen/--clock-running",
    envvar="SANDBOX_CLOCK_FROZEN",
    default=None,
    help="With a start instant: stand still there (default, like APP_NOW) or run on from it "
    "[env SANDBOX_CLOCK_FROZEN].",
)
@click.option(
    "--speedup",
    envvar="SANDBOX_SPEEDUP",
    default=DEFAULT_SPEEDUP,
    show_default=True,
    type=float,
    help="Divide the tax bureau's callback retry waits (15 s, 15 s, 30 s, ...) by this [env SANDBOX_SPEEDUP].",
)
@click.option(
    "--tax-private-key",
    envvar="SANDBOX_TAX_PRIVATE_KEY",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM key that signs the callbacks [env SANDBOX_TAX_PRIVATE_KEY; default: "
    "instance/sandbox_tax_private_key.pem, generated with the API's trusted public key].",
)
@click.option(
    "--tax-key-serial",
    envvar="SANDBOX_TAX_KEY_SERIAL",
    default=devkeys.SANDBOX_TAX_SERIAL,
    show_default=True,
    help="Tax-Serial of the callbacks [env SANDBOX_TAX_KEY_SERIAL].",
)
@with_appcontext
def sandbox_command(
    host: str,
    port: int,
    now: str | None,
    clock_frozen: bool | None,
    speedup: float,
    tax_private_key: str | None,
    tax_key_serial: str,
) -> None:
    """Run the sandbox counterparts (WeChat, identity, agency, tax bureau) on a local port."""
    api_config = current_app.config
    try:
        config = sandbox_config(
            api_config,
            Path(current_app.instance_path),
            now=now,
            frozen=clock_frozen,
            speedup=speedup,
            private_key=tax_private_key,
            serial=tax_key_serial,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None
    problem = trust_problem(api_config, config["SANDBOX_TAX_PRIVATE_KEY"], tax_key_serial)
    if problem:
        click.echo(f"warning: the API would refuse this sandbox's callbacks: {problem}", err=True)
    app = create_sandbox_app(config)
    base = f"http://{host}:{port}"
    clock = config.get("SANDBOX_NOW", "real time")
    if config.get("SANDBOX_NOW"):
        clock += " (frozen)" if config["SANDBOX_CLOCK_FROZEN"] else " (running)"
    click.echo(
        f"sandbox on {base}: /wechat /identity /agency /tax; clock {clock}; "
        f"retries sped up x{config['SANDBOX_SPEEDUP']:g}",
        err=True,
    )
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
