"""The ADVANCE allocation run through one service from the command line: three site assistants allocate, an
unblinder unblinds, the statistician verifies the log; on PostgreSQL and SQLite. And the service over TLS."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from advance_trial.randomisation import allocation as al
from tests.conftest import ROOT
from tests.service_helpers import PASSWORD, Server, csrf_of, serve_trial

SITES = ("london", "wolverhampton", "bristol")


def cli(*args: str, token: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full.pop("ADVANCE_TRIAL_TOKEN", None)
    if token:
        full["ADVANCE_TRIAL_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "advance_trial", *args], capture_output=True, text=True, env=full,
                          cwd=ROOT, timeout=120)  # fmt: skip


def command(*args: str, token: str | None = None):
    """The same command in-process (typer's CliRunner; the server stays a process of its own): the click Result,
    with ``returncode``, ``stdout`` and ``stderr`` as :func:`cli` gives them."""
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from advance_trial.cli.main import app

    done = CliRunner().invoke(app, list(args), env={"ADVANCE_TRIAL_TOKEN": token})
    return SimpleNamespace(returncode=done.exit_code, stdout=done.stdout, stderr=done.stderr)


def test_three_sites_and_an_unblinder_through_the_command_line_then_the_statistician_verifies(tmp_path, log_location):
    served = serve_trial(tmp_path, log_location)
    config = str(served.trial.config)
    receipts = []
    with Server(served) as server:
        for i, site in enumerate(SITES):
            out = command("randomise", "allocate", config, "--participant", f"AF{i + 1:03d}", "--site", site,
                      "--server", server.url, "--receipt-out", str(tmp_path / f"r{i}.json"),
                      token=served.tokens[f"ra.{site}"])  # fmt: skip
            assert out.returncode == 0, out.stderr
            assert f"AF{i + 1:03d}" in out.stdout and "receipt: sequence" in out.stdout
            receipts.append(tmp_path / f"r{i}.json")
        again = command("randomise", "allocate", config, "--participant", "AF001", "--site", "london", "--server",
                    server.url, "--json", token=served.tokens["ra.london"])  # fmt: skip
        assert again.returncode == 0 and json.loads(again.stdout)["new"] is False
        refused = command("randomise", "allocate", config, "--participant", "AF009", "--site", "bristol", "--server",
                      server.url, token=served.tokens["ra.london"])  # fmt: skip
        assert refused.returncode == 1 and "you allocate only at london" in refused.stderr
        no_token = command("randomise", "allocate", config, "--participant", "AF009", "--site", "london", "--server",
                       server.url)  # fmt: skip
        assert no_token.returncode == 2 and "ADVANCE_TRIAL_TOKEN" in no_token.stderr
        unblinded = command("randomise", "unblind", config, "--participant", "AF002", "--reason",
                        "admitted to hospital, clinician asks", "--server", server.url, "--json",
                        token=served.tokens["unblinder"])  # fmt: skip
        assert unblinded.returncode == 0, unblinded.stderr
        assert json.loads(unblinded.stdout)["arm"] in ("advance", "tau")
    # the statistician verifies the log, with every receipt the assistants kept
    verified = command("randomise", "verify", config, "--log", log_location, "--key-dir", str(served.trial.keys),
                   *[a for r in receipts for a in ("--receipt", str(r))], "--json")  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["allocations"] == 3 and report["unblindings"] == 1 and report["receipts"] == 3
    frame = al.allocations(served.cfg, served.ring, log_location)
    assert list(frame["allocated_by"]) == [f"service:ra.{s}" for s in SITES]


def test_a_server_of_another_trial_is_refused_before_anything_is_asked(tmp_path):
    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"))
    other = tmp_path / "other.yaml"
    other.write_text(served.trial.config.read_text().replace("id: advance-feasibility", "id: another-trial", 1))
    with Server(served) as server:
        out = command("randomise", "allocate", str(other), "--participant", "AF001", "--site", "london", "--server",
                  server.url, token=served.tokens["ra.london"])  # fmt: skip
    assert out.returncode == 2 and "serves trial 'advance-feasibility'" in out.stderr
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0


def _self_signed(folder) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    import ipaddress

    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return str(cert_path), str(key_path)


def _login_cookie(url: str, context=None, headers: dict[str, str] | None = None) -> str:
    """Log in through the form over a real connection; the session cookie's Set-Cookie header."""
    import urllib.error
    import urllib.parse

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect())
    with opener.open(urllib.request.Request(url + "/login", headers=headers or {})) as first:
        page = first.read().decode()
        login_cookie = first.headers["set-cookie"].split(";")[0]
    data = urllib.parse.urlencode({"csrf": csrf_of(page), "name": "ra.london", "password": PASSWORD}).encode()
    try:
        opener.open(urllib.request.Request(url + "/login", data=data, headers={**(headers or {}),
                                                                               "Cookie": login_cookie}))  # fmt: skip
    except urllib.error.HTTPError as exc:
        assert exc.code == 303
        return next(v for k, v in exc.headers.items() if k.lower() == "set-cookie" and "advance_session" in v)
    raise AssertionError("the login did not redirect")


def test_the_service_over_its_own_certificate_and_behind_a_proxy(tmp_path):
    import ssl

    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"))
    cert, key = _self_signed(tmp_path)
    with Server(served, extra=["--certfile", cert, "--keyfile", key]) as server:
        assert server.url.startswith("https://")
        cookie = _login_cookie(server.url, ssl.create_default_context(cafile=cert))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        out = cli("randomise", "allocate", str(served.trial.config), "--participant", "AF001", "--site", "london",
                  "--server", server.url, token=served.tokens["ra.london"], env={"SSL_CERT_FILE": cert})  # fmt: skip
        assert out.returncode == 0, out.stderr
        untrusted = cli("randomise", "allocate", str(served.trial.config), "--participant", "AF002", "--site",
                        "london", "--server", server.url, token=served.tokens["ra.london"])  # fmt: skip
        assert untrusted.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    # plain HTTP behind a TLS proxy on the same machine: the proxy's X-Forwarded-Proto makes cookies Secure
    with Server(served) as server:
        assert "Secure" not in _login_cookie(server.url)
        assert "Secure" in _login_cookie(server.url, headers={"X-Forwarded-Proto": "https"})


@pytest.mark.parametrize("bad", [["--certfile", "/nonexistent.pem", "--keyfile", "/nonexistent.key"],
                                 ["--certfile", "/etc/hostname"]])  # fmt: skip
def test_serve_refuses_bad_options_in_one_line(tmp_path, bad):
    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"))
    out = cli("serve", str(served.trial.config), "--key-dir", str(served.trial.keys), *bad)
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_serve_refuses_a_log_that_does_not_verify(tmp_path):
    from tests.service_helpers import edit_events

    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"))
    al.allocate(served.cfg, served.ring, "AF001", "london", log=served.where)
    edit_events(served.where, "UPDATE events SET site = 'bristol' WHERE kind = 'allocation'")
    out = cli("serve", str(served.trial.config), "--db", served.where, "--key-dir", str(served.trial.keys))
    assert out.returncode == 5 and "does not authenticate" in out.stderr and "Traceback" not in out.stderr
