"""A BSL's AWS credentials: the shared-credentials file of its Secret, or the default chain.

The file (INI, profiles, optional ``aws_session_token``) is parsed in memory and never echoed.
Velero loads that file as both credentials and config file, so a ``[profile x]`` section is
accepted as well as ``[x]``. Without credentials, the default chain reads the injected
environment only: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, web identity
(IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), the container endpoint (EKS Pod Identity,
ECS), then instance metadata unless AWS_EC2_METADATA_DISABLED=true.
"""

from __future__ import annotations

import configparser
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import botocore.session
from botocore.credentials import (
    AssumeRoleWithWebIdentityProvider,
    ContainerProvider,
    CredentialProvider,
    CredentialResolver,
    EnvProvider,
    InstanceMetadataFetcher,
    InstanceMetadataProvider,
)

from reconciler.core.model import Bsl
from reconciler.errors import SourceError

DEFAULT_PROFILE: Final = "default"


@dataclass(frozen=True)
class StaticCredentials:
    """Keys from a shared-credentials file; the secret parts never appear in repr()."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _secret_ref(bsl: Bsl) -> str:
    key = bsl.credential_key or "?"
    if bsl.credential_name:
        return f'secret "{bsl.credential_name}" key "{key}"'
    return f'secret key "{key}"'


def parse_credentials(text: str, *, bsl: Bsl) -> StaticCredentials:
    """Static keys of the BSL's profile from the text of an AWS shared-credentials file.

    Errors name the BSL, the profile and the secret, never the file's contents; they are raised
    outside any ``except`` block so no parser exception (which may quote a line) is chained.
    """
    profile = bsl.config.get("profile") or DEFAULT_PROFILE
    where = f"credentials for BSL {bsl.namespace}/{bsl.name}"
    parser = configparser.ConfigParser(
        interpolation=None,
        strict=False,  # repeated sections/keys merge, later values win
        delimiters=("=",),
        default_section="\x00",  # no section is special; "[DEFAULT]" is just a profile name
    )
    bad_lines: list[int] | None = None
    try:
        parser.read_string(text.lstrip("\ufeff"))
    except configparser.MissingSectionHeaderError as exc:  # a ParsingError: catch it first
        bad_lines = [exc.lineno]
    except configparser.ParsingError as exc:
        bad_lines = sorted({lineno for lineno, _ in exc.errors})
    except configparser.Error:
        bad_lines = []
    if bad_lines is not None:
        at = f" (line {', '.join(map(str, bad_lines))})" if bad_lines else ""
        raise SourceError(f"{where}: {_secret_ref(bsl)} is not a valid AWS credentials file{at}")

    sections: dict[str, dict[str, str]] = {}
    for raw_name in parser.sections():
        name = " ".join(raw_name.split())
        sections.setdefault(name, {}).update(parser.items(raw_name))
    # Credentials-file style "[x]" wins over config-file style "[profile x]", as in the AWS SDK.
    values = {**sections.get(f"profile {profile}", {}), **sections.get(profile, {})}
    if not values and f"profile {profile}" not in sections and profile not in sections:
        raise SourceError(f'{where}: profile "{profile}" not found in {_secret_ref(bsl)}')
    access_key = values.get("aws_access_key_id", "").strip()
    secret_key = values.get("aws_secret_access_key", "").strip()
    if not access_key or not secret_key:
        raise SourceError(
            f'{where}: profile "{profile}" in {_secret_ref(bsl)} has no '
            "aws_access_key_id/aws_secret_access_key (role, SSO and credential_process "
            "profiles are not supported)"
        )
    token = values.get("aws_session_token", "").strip() or None
    return StaticCredentials(access_key, secret_key, token)


def default_credential_chain(
    session: botocore.session.Session, environ: Mapping[str, str], region: str
) -> CredentialResolver:
    """The default chain, reading only `environ` (never the process environment or ~/.aws)."""
    env = dict(environ)
    providers: list[CredentialProvider] = [EnvProvider(environ=env)]
    token_file = env.get("AWS_WEB_IDENTITY_TOKEN_FILE", "")
    if token_file:
        profile = {
            "web_identity_token_file": token_file,
            "role_arn": env.get("AWS_ROLE_ARN", ""),
            "role_session_name": env.get("AWS_ROLE_SESSION_NAME") or "full-backup-reconciler",
        }
        sts_region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or region
        providers.append(
            AssumeRoleWithWebIdentityProvider(
                load_config=lambda: {"profiles": {"web-identity": profile}},
                client_creator=functools.partial(session.create_client, region_name=sts_region),
                profile_name="web-identity",
                disable_env_vars=True,
            )
        )
    providers.append(ContainerProvider(environ=env))
    providers.append(
        InstanceMetadataProvider(
            iam_role_fetcher=InstanceMetadataFetcher(
                timeout=1, num_attempts=1, env=env, user_agent=session.user_agent()
            )
        )
    )
    return CredentialResolver(providers)
