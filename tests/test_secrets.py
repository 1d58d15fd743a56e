"""Secret hygiene, read-only access and TLS, end to end through the CLI.

A recognisable access key, secret key and session token are planted in the BSL's credentials
Secret; every command runs, through successes and through failures chosen to carry credentials
near the error path (an S3 SignatureDoesNotMatch error that echoes the access key and the signed
request with its session token, as AWS does; throttling with logged retries; a malformed
credentials file; API errors). Then every byte the job produced is searched: stdout (the plan),
stderr (JSON and console logs), Python logging records, Events, the bodies the job sent to the
API server, and the snapshot directory.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import ipaddress
import json
import logging
import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reconciler.cli import main
from reconciler.core import keys
from tests.cluster import World, secret_object
from tests.fakekube.server import DEFAULT_CONTEXT, FakeKubeServer
from tests.faultworld import VMS, WINDOW, actions, argv, messages, run, seed
from tests.s3fixtures import Fault, FaultProxy, Seeder
from tests.s3proxy import TargetedProxy, is_get

ACCESS_KEY = "AKIAPLANTEDKEY7777ID"
SECRET_KEY = "PLANTED/secret+Key-do-not-leak-9f8e7d"
SESSION_TOKEN = "PLANTED-session-token-1a2b3c4d5e6f"
CREDENTIALS = (
    f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    f"aws_session_token = {SESSION_TOKEN}\n"
)
PLANTED = (
    ACCESS_KEY,
    SECRET_KEY,
    SESSION_TOKEN,
    base64.b64encode(CREDENTIALS.encode()).decode(),
    SECRET_KEY.split("/")[1],
    SESSION_TOKEN[8:],
)


class EchoingProxy(TargetedProxy):
    """Answers faulted requests with the error AWS sends for a bad signature: the access key id,
    the string to sign and the canonical request (with the x-amz-security-token header) included."""

    def _handler(self) -> Any:
        base = super()._handler()

        class Handler(base):  # type: ignore[misc, valid-type]
            def _answer_error(self, fault: Fault) -> None:
                if fault.code != "SignatureDoesNotMatch":
                    super()._answer_error(fault)
                    return
                token = self.headers.get("x-amz-security-token", "")
                auth = self.headers.get("Authorization", "")
                xml = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>'
                    "<Message>The request signature we calculated does not match the signature you provided."
                    " Check your key and signing method.</Message>"
                    f"<AWSAccessKeyId>{ACCESS_KEY}</AWSAccessKeyId><StringToSign>{auth}</StringToSign>"
                    f"<CanonicalRequest>GET\n{self.path}\nx-amz-security-token:{token}</CanonicalRequest>"
                    "<RequestId>ECHO</RequestId></Error>"
                ).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(xml)))
                self.end_headers()
                self.wfile.write(xml)

        return Handler


@pytest.fixture
def echo_proxy(s3_endpoint: str) -> Iterator[EchoingProxy]:
    p = EchoingProxy(s3_endpoint)
    p.start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, echo_proxy: EchoingProxy, tmp_path: Path) -> World:
    w = World(fake_kube, s3_seed, echo_proxy.url, tmp_path)
    fake_kube.seed(secret_object(CREDENTIALS))
    seed(w)
    return w


class Output:
    """Everything the job wrote anywhere, to search for planted values."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, *texts: str) -> None:
        self.parts.extend(texts)

    def leaks(self, planted: tuple[str, ...] = PLANTED) -> list[str]:
        text = "\n".join(self.parts)
        return [p for p in planted if p in text]


def run_all(world: World, output: Output, *extra: str, log_format: str) -> list[int]:
    codes = []
    for command in ("plan", "run"):
        out, err = io.StringIO(), io.StringIO()
        codes.append(
            main(
                [*argv(world, command, *extra), "--log-format", log_format],
                environ={},
                stdout=out,
                stderr=err,
                sleep=lambda _s: None,
            )
        )
        output.add(out.getvalue(), err.getvalue())
    out, err = io.StringIO(), io.StringIO()
    main(
        [
            "explain",
            "apps/plain",
            "--kubeconfig",
            str(world.kubeconfig),
            "--context",
            DEFAULT_CONTEXT,
            "--velero-namespace",
            "velero",
            "--log-format",
            log_format,
        ],
        environ={},
        stdout=out,
        stderr=err,
        sleep=lambda _s: None,
    )
    output.add(out.getvalue(), err.getvalue())
    return codes


def job_footprint(world: World, output: Output, caplog: pytest.LogCaptureFixture) -> None:
    """What the job left outside its own streams: log records, Events, request bodies it sent."""
    output.add(*(r.getMessage() for r in caplog.records), *(str(r.__dict__) for r in caplog.records))
    output.add(json.dumps(world.kube.objects("events", "apps")), json.dumps(world.kube.objects("events", "velero")))
    output.add(*(json.dumps(r.body) for r in world.kube.requests() if r.method in ("PATCH", "POST", "PUT")))
    output.add(json.dumps(world.kube.objects("virtualmachines", "apps")))


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_planted_credentials_appear_nowhere(
    world: World, echo_proxy: EchoingProxy, tmp_path: Path, caplog: pytest.LogCaptureFixture, log_format: str
) -> None:
    """Successes, a signature error echoing the credentials, throttling with logged retries, and a
    snapshot: none of the planted values (nor the Secret's base64) is in anything the job produced."""
    caplog.set_level(logging.DEBUG, logger="reconciler")
    caplog.set_level(logging.INFO)
    output = Output()
    # 1. Signature errors on one VM's index, echoing the key id, the Authorization header and the token.
    echo_proxy.add(Fault.error(403, "SignatureDoesNotMatch"), when=lambda _m, p: p.endswith("/plain/index.json"))
    codes = run_all(world, output, log_format=log_format)
    assert codes == [1, 1]
    assert echo_proxy.rules[0].fired >= 3  # the error really was sent, with the credentials in it
    # 2. Throttling everywhere: every retry is logged.
    echo_proxy.clear()
    echo_proxy.add(Fault.error(503, "SlowDown"), times=None, when=is_get)
    run_all(world, output, log_format=log_format)
    assert any("retrying" in r.getMessage() for r in caplog.records)
    # 3. A clean run and a snapshot.
    echo_proxy.clear()
    output.add(*map(str, run_all(world, output, log_format=log_format)))
    out, err = io.StringIO(), io.StringIO()
    snap = tmp_path / f"snap-{log_format}"
    main(
        [
            "snapshot",
            "--kubeconfig",
            str(world.kubeconfig),
            "--context",
            DEFAULT_CONTEXT,
            "--velero-namespace",
            "velero",
            "--out",
            str(snap),
            "--log-format",
            log_format,
        ],
        environ={},
        stdout=out,
        stderr=err,
    )
    output.add(out.getvalue(), err.getvalue())
    output.add(*(p.read_text(errors="replace") for p in snap.rglob("*") if p.is_file()))
    job_footprint(world, output, caplog)
    assert "SignatureDoesNotMatch" in "\n".join(output.parts)  # the errors were reported ...
    assert output.leaks() == []  # ... without the credentials in them


def test_malformed_credentials_are_not_quoted(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A credentials file the parser rejects: the error names the Secret and the line, not its text."""
    caplog.set_level(logging.INFO)
    broken = f"[default]\naws_access_key_id = {ACCESS_KEY}\n{SECRET_KEY}\naws_session_token {SESSION_TOKEN}\n"
    world.kube.seed(secret_object(broken))
    output = Output()
    for log_format in ("json", "console"):
        codes = run_all(world, output, log_format=log_format)
        assert codes == [1, 1]
    job_footprint(world, output, caplog)
    text = "\n".join(output.parts)
    assert 'secret "cloud-credentials" key "cloud" is not a valid AWS credentials file (line 3' in text
    assert output.leaks((*PLANTED, base64.b64encode(broken.encode()).decode())) == []


def test_api_errors_do_not_carry_the_bearer_token(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """403 and 401 from the API server: the messages name the request, never the token that made it."""
    caplog.set_level(logging.INFO)
    config = json.loads(json.dumps(__import__("yaml").safe_load(world.kubeconfig.read_text())))
    token = config["users"][0]["user"]["token"]
    world.kube.add_fault("GET", r"/secrets/cloud-credentials$", status=403, times=None)
    world.kube.add_fault("PATCH", None, status=401, times=None)
    output = Output()
    run_all(world, output, log_format="json")
    job_footprint(world, output, caplog)
    assert "403" in "\n".join(output.parts)
    assert output.leaks((token, *PLANTED)) == []


# --------------------------------------------------------------------------- read-only


def test_the_job_only_reads_the_bucket(world: World, echo_proxy: EchoingProxy, tmp_path: Path) -> None:
    """plan, run, explain and snapshot, with faults and without: the endpoint sees GET and HEAD only
    (a LIST is a GET with list-type=2), never PUT, POST or DELETE."""
    echo_proxy.add(Fault.error(503, "SlowDown"), times=3)
    run_all(world, Output(), log_format="json")  # plan, run (takes over, forces fulls), explain
    echo_proxy.rules.clear()
    world.backup_window(WINDOW, VMS)  # the forced fulls land (the upstream model writes to moto directly)
    _, plan, _ = run(world, now=WINDOW + timedelta(hours=23))
    assert "release" in actions(plan).values()
    world.kube.modify(
        "schedules", "nightly", lambda o: {**o, "metadata": {**o["metadata"], "annotations": {}}}, namespace="velero"
    )
    run(world, "run", "--release-all", now=WINDOW + timedelta(hours=23, minutes=5))  # given back
    main(
        [
            "snapshot",
            "--kubeconfig",
            str(world.kubeconfig),
            "--context",
            DEFAULT_CONTEXT,
            "--velero-namespace",
            "velero",
            "--out",
            str(tmp_path / "snap"),
        ],
        environ={},
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    methods = {m for m, _ in echo_proxy.requests}
    lists = sum(1 for _, p in echo_proxy.requests if "list-type=2" in p)
    print(f"READ-ONLY: {len(echo_proxy.requests)} requests, methods {sorted(methods)}, {lists} of them LIST")
    assert methods <= {"GET", "HEAD"}
    assert lists > 0 and len(echo_proxy.requests) > lists


# --------------------------------------------------------------------------- TLS


def _certificates(tmp_path: Path) -> tuple[str, Path, Path]:
    """A CA (PEM text) and a server certificate for 127.0.0.1 it signed (files)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test object storage CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_path, key_path


@pytest.fixture
def tls_proxy(s3_endpoint: str, tmp_path: Path) -> Iterator[tuple[FaultProxy, str]]:
    """The proxy in front of moto, speaking HTTPS with a certificate from a private CA."""
    ca_pem, cert, key = _certificates(tmp_path)
    proxy = FaultProxy(s3_endpoint)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    proxy._server.socket = context.wrap_socket(proxy._server.socket, server_side=True)
    proxy.start()
    try:
        yield proxy, ca_pem
    finally:
        proxy.stop()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # the BSL asked for it
def test_tls_is_verified_unless_the_bsl_says_otherwise(
    fake_kube: FakeKubeServer, s3_seed: Seeder, tls_proxy: tuple[FaultProxy, str], tmp_path: Path
) -> None:
    """An HTTPS endpoint with a private CA: refused by default (the message says what to set); trusted
    with the BSL's caCert; accepted unverified only with insecureSkipTLSVerify: "true"."""
    proxy, ca_pem = tls_proxy
    https = proxy.url.replace("http://", "https://")
    world = World(fake_kube, s3_seed, https, tmp_path)
    seed(world)

    def set_bsl(config: dict[str, str], ca: str | None = None) -> None:
        def mutate(o: dict[str, Any]) -> dict[str, Any]:
            spec = {**o["spec"], "config": {**o["spec"]["config"], **config}}
            if ca is not None:
                spec["objectStorage"] = {**spec["objectStorage"], "caCert": base64.b64encode(ca.encode()).decode()}
            return {**o, "spec": spec}

        fake_kube.modify("backupstoragelocations", "default", mutate, namespace="velero")

    code, plan, _ = run(world, "plan")
    assert code == 1 and set(actions(plan).values()) == {"error"}
    assert "TLS verification failed" in messages(plan)["plain"]
    assert "caCert" in messages(plan)["plain"] and "insecureSkipTLSVerify" in messages(plan)["plain"]
    assert proxy.requests == []  # no request got past the handshake

    set_bsl({"insecureSkipTLSVerify": "false"})
    code, plan, _ = run(world, "plan")
    assert code == 1 and "TLS verification failed" in messages(plan)["plain"]

    set_bsl({}, ca=ca_pem)
    code, plan, err = run(world, "plan")
    assert code == 0, err
    assert set(actions(plan).values()) == {"force-full", "keep"}

    set_bsl({"insecureSkipTLSVerify": "true"}, ca="")
    code, plan, err = run(world, "plan")
    assert code == 0, err
    assert len(proxy.requests) == 16  # two plans' worth, both over TLS
    assert keys.STATE not in world.annotations("plain")
