"""A real SSH bastion for devstack: public-key login for one user, TCP forwarding (direct-tcpip) only, no shell.

OpenSSH's sshd is not installable everywhere we run (no root on some laptops, no package on CI), so this is an
asyncssh server; it speaks the same protocol the product's sshtunnel/paramiko client uses against a real bastion.
Run as `python -m devstack.bastion --port P --host-key F --authorized-keys F --user U`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import asyncssh

USER = "r2a"


def generate_keys(directory: Path, port: int) -> dict:
    """Host key, client key pair and a known_hosts file naming the bastion's address."""
    directory.mkdir(parents=True, exist_ok=True)
    host_key_file, client_key_file = directory / "host_ed25519", directory / "client_ed25519"
    if not host_key_file.exists():
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(host_key_file))
    if not client_key_file.exists():
        client = asyncssh.generate_private_key("ssh-ed25519", comment="r2a-devstack")
        client.write_private_key(str(client_key_file))
        client.write_public_key(str(directory / "client_ed25519.pub"))
    host_public = asyncssh.read_private_key(str(host_key_file)).export_public_key().decode().strip()
    host_public = " ".join(host_public.split()[:2])
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public}\n")
    for path in (host_key_file, client_key_file):
        path.chmod(0o600)
    return {"host_key_file": str(host_key_file), "private_key_file": str(client_key_file),
            "authorized_keys_file": str(directory / "client_ed25519.pub"), "known_hosts_file": str(known_hosts),
            "host_public_key": host_public}


class _Bastion(asyncssh.SSHServer):
    def __init__(self, user: str, allowed_keys: set[bytes]) -> None:
        self._user = user
        self._allowed_keys = allowed_keys

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._user and key.public_data in self._allowed_keys

    def password_auth_supported(self) -> bool:
        return False

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        logging.info("forward to %s:%s", dest_host, dest_port)
        return True

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return False

    def session_requested(self) -> bool:
        return False


async def serve(host: str, port: int, host_key: str, authorized_keys: str, user: str) -> None:
    allowed = {asyncssh.import_public_key(line).public_data
               for line in Path(authorized_keys).read_text().splitlines() if line.strip()}

    def factory() -> _Bastion:
        return _Bastion(user, allowed)

    server = await asyncssh.listen(host, port, server_host_keys=[host_key], server_factory=factory, allow_scp=False, agent_forwarding=False,
                                   x11_forwarding=False, keepalive_interval=15)
    logging.info("bastion listening on %s:%s", host, port)
    await server.wait_closed()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.bastion", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host-key", required=True)
    parser.add_argument("--authorized-keys", required=True)
    parser.add_argument("--user", default=USER)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(args.host, args.port, args.host_key, args.authorized_keys, args.user))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
