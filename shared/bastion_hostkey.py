"""The host key the SSH bastion must show, and one-line errors when it shows another or none is pinned.

A pin comes from SSH_BASTION_HOST_KEY (the workflow parameter `bastion-host-key`): the public key line as
`ssh-keyscan` prints it, with or without the host name in front, or its SHA256 fingerprint as `ssh-keygen -lf` prints
it. When that is empty, SSH_BASTION_HOST_KEY_FILE (the optional ConfigMap) holds the same text, then
SSH_BASTION_KNOWN_HOSTS (a `known_hosts` item of Secret acceso-vpn) is looked up. A file that does not exist counts
as not given: the old acceso-vpn secret has no `known_hosts` item, and the ConfigMap is optional.

The bastion is never trusted on first use: with no pin (and SSH_BASTION_STRICT_HOST_KEY left on) the step stops
and names the key the bastion offers, with the command that shows it out of band.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from shared.config import BastionSettings
from shared.errors import ConfigError, TransientError
from shared.log import one_line

# paramiko's host-key algorithm preference; of several pinned keys, the first of these is the one pinned.
HOST_KEY_PREFERENCE = ("ssh-ed25519", "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp256",
                       "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")
KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")
# An RSA key is negotiated under its SHA-2 signature names (OpenSSH >= 8.8 refuses plain ssh-rsa).
_NEGOTIATED = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}
# OpenSSH prints SHA256 fingerprints as unpadded base64 of the 32-byte digest: 43 characters.
_FINGERPRINT = re.compile(r"SHA256:([A-Za-z0-9+/]{43})=?(?![A-Za-z0-9+/])")
PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class HostKeyPin:
    source: str  # the setting it came from, as messages name it
    fingerprint: str  # SHA256:… as ssh-keygen -lf prints it
    key: object | None = None  # paramiko.PKey; None when only the fingerprint was given

    def describe(self) -> str:
        return f"{self.key.get_name()} {self.fingerprint}" if self.key is not None else self.fingerprint


def parse_host_key(text: str, source: str) -> HostKeyPin:
    """A pin from a public key line (`[host] ssh-ed25519 AAAA… [comment]`, several lines allowed) or a fingerprint."""
    import paramiko

    fingerprint = _FINGERPRINT.search(text)
    if fingerprint:
        return HostKeyPin(source, f"SHA256:{fingerprint.group(1)}")
    keys = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        position = next((i for i, word in enumerate(words[:-1]) if word in KEY_TYPES), None)
        if position is None:
            continue
        try:
            blob = base64.b64decode(words[position + 1], validate=True)
            keys.append(paramiko.PKey.from_type_string(words[position], blob))
        except (binascii.Error, ValueError, paramiko.SSHException) as exc:
            raise ConfigError(f"{source} holds a {words[position]} key that cannot be read: "
                              f"{type(exc).__name__}") from None
    if not keys:
        raise ConfigError(f"{source} is neither a public key line (ssh-ed25519 AAAA…) nor a SHA256:… fingerprint",
                          "Give the line `ssh-keyscan -t ed25519 <bastion>` prints, or its `ssh-keygen -lf` "
                          "fingerprint")
    key = min(keys, key=lambda k: _rank(k.get_name()))
    return HostKeyPin(source, key.fingerprint, key)


def _rank(algorithm: str) -> int:
    return HOST_KEY_PREFERENCE.index(algorithm) if algorithm in HOST_KEY_PREFERENCE else len(HOST_KEY_PREFERENCE)


def _known_hosts_pin(bastion: BastionSettings) -> HostKeyPin | None:
    import paramiko

    try:
        known = paramiko.HostKeys(bastion.known_hosts)
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise ConfigError(f"SSH_BASTION_KNOWN_HOSTS file {bastion.known_hosts!r} cannot be read: "
                          f"{_why(exc)}") from None
    # As OpenSSH: on a port other than 22 only `[host]:port` entries name this bastion, never the bare host's.
    entry = known.lookup(bastion.host if bastion.port == 22 else f"[{bastion.host}]:{bastion.port}")
    if not entry:
        return None
    key = min(entry.values(), key=lambda k: _rank(k.get_name()))
    return HostKeyPin("SSH_BASTION_KNOWN_HOSTS", key.fingerprint, key)


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def _existing(path: str | None) -> Path | None:
    return Path(path).expanduser() if path and Path(path).expanduser().is_file() else None


def host_key_pin(bastion: BastionSettings) -> HostKeyPin | None:
    """The pin to check the bastion against; None only when SSH_BASTION_STRICT_HOST_KEY is off and none is given.
    With strict checking and no pin, raises the one-line error that names the key the bastion offers."""
    if bastion.host_key and bastion.host_key.strip():
        return parse_host_key(bastion.host_key, "SSH_BASTION_HOST_KEY")
    given = _existing(bastion.host_key_file)
    if given is not None:
        try:
            text = given.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"SSH_BASTION_HOST_KEY_FILE {str(given)!r} cannot be read: {_why(exc)}") from None
        if text.strip():
            return parse_host_key(text, "SSH_BASTION_HOST_KEY_FILE")
    if _existing(bastion.known_hosts) is not None:
        pin = _known_hosts_pin(bastion)
        if pin is not None:
            return pin
        if bastion.strict_host_key:
            raise ConfigError(f"the bastion {bastion.host}:{bastion.port} has no entry in {bastion.known_hosts}",
                              f"Add the line `{keyscan_command(bastion)}` prints, checked out of band, or give it "
                              "as SSH_BASTION_HOST_KEY (workflow parameter bastion-host-key)")
    if not bastion.strict_host_key:
        return None
    raise unpinned_error(bastion)


def keyscan_command(bastion: BastionSettings) -> str:
    port = "" if bastion.port == 22 else f"-p {bastion.port} "
    return f"ssh-keyscan -t ed25519 {port}{bastion.host}"


def offered_key(bastion: BastionSettings, algorithms: tuple[str, ...] | None = None):
    """The host key the bastion offers in a key exchange that stops before any login (nothing is trusted by it)."""
    import paramiko

    logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # its transport thread logs tracebacks we report
    where = f"bastion {bastion.host}:{bastion.port}"
    try:
        sock = socket.create_connection((bastion.host, bastion.port), timeout=PROBE_TIMEOUT_S)
    except socket.gaierror:
        raise ConfigError(f"cannot resolve the host name of {where}") from None
    except OSError as exc:
        raise TransientError(f"cannot open the SSH tunnel through {where}: {exc.strerror or exc}") from None
    transport = paramiko.Transport(sock)
    try:
        offered_algorithms = tuple(a for a in algorithms or () if a in paramiko.Transport._key_info)
        if offered_algorithms:
            transport.get_security_options().key_types = offered_algorithms
        transport.start_client(timeout=PROBE_TIMEOUT_S)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        detail = one_line(exc, 160) or type(exc).__name__
        raise TransientError(f"cannot open the SSH tunnel through {where}: SSH handshake failed: {detail}") from None
    finally:
        transport.close()


def _algorithms(pin: HostKeyPin) -> tuple[str, ...] | None:
    if pin.key is None:
        return None
    name = pin.key.get_name()
    return _NEGOTIATED.get(name, (name,))


def verified_key(bastion: BastionSettings, pin: HostKeyPin):
    """The key to hand to the SSH client: the pinned one, or for a fingerprint the offered key once it matches."""
    if pin.key is not None:
        return pin.key
    key = offered_key(bastion)
    if key.fingerprint != pin.fingerprint:
        raise mismatch_error(bastion, pin, key)
    return key


# Where each pin is set, as the hint of a mismatch names it.
_WHERE_SET = {"SSH_BASTION_HOST_KEY": "SSH_BASTION_HOST_KEY (workflow parameter bastion-host-key)",
              "SSH_BASTION_HOST_KEY_FILE": "SSH_BASTION_HOST_KEY_FILE (ConfigMap r2a-bastion)",
              "SSH_BASTION_KNOWN_HOSTS": "SSH_BASTION_KNOWN_HOSTS (known_hosts item of Secret acceso-vpn)"}


def _offered_text(bastion: BastionSettings, pin: HostKeyPin) -> str:
    """The key the bastion offers for the pin's algorithm, else for any (a bastion without that key type)."""
    try:
        key = offered_key(bastion, _algorithms(pin))
    except TransientError:
        try:
            key = offered_key(bastion)
        except (ConfigError, TransientError) as exc:
            return f"unknown ({exc.reason})"
    except ConfigError as exc:
        return f"unknown ({exc.reason})"
    return f"{key.get_name()} {key.fingerprint}"


def mismatch_error(bastion: BastionSettings, pin: HostKeyPin, offered=None) -> ConfigError:
    offered_text = _offered_text(bastion, pin) if offered is None else f"{offered.get_name()} {offered.fingerprint}"
    return ConfigError(f"the host key of bastion {bastion.host}:{bastion.port} does not match {pin.source}; "
                       f"refusing to connect: expected {pin.describe()}, offered {offered_text}",
                       f"If the bastion's key really changed, check the new one out of band "
                       f"(`{keyscan_command(bastion)} | ssh-keygen -lf -`) and update "
                       f"{_WHERE_SET.get(pin.source, pin.source)}")


def unpinned_error(bastion: BastionSettings) -> ConfigError:
    try:
        key = offered_key(bastion)
        offered = f"it offers {key.get_name()} {key.fingerprint}"
    except (ConfigError, TransientError) as exc:
        offered = f"its key could not be fetched to show here ({exc.reason})"
    return ConfigError(f"no host key is pinned for bastion {bastion.host}:{bastion.port} and none is trusted on "
                       f"first use; {offered}",
                       f"Get the key with `{keyscan_command(bastion)}`, check its fingerprint (`ssh-keygen -lf`) out "
                       "of band, and give the line or the fingerprint as workflow parameter bastion-host-key "
                       "(SSH_BASTION_HOST_KEY), or a known_hosts item in Secret acceso-vpn")
