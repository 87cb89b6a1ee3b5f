"""A locally made certificate (trustme) so the emulator can serve https on loopback."""

import importlib.util
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class TlsFiles:
    """Where the server's key+chain and the CA that signed it were written."""

    server_pem: str
    ca_pem: str


def tls_available() -> bool:
    """Whether trustme is installed."""
    return importlib.util.find_spec("trustme") is not None


def make_tls_files(directory: str) -> TlsFiles:
    """Make a CA and a certificate for 127.0.0.1/localhost; clients trust `ca_pem`."""
    import trustme  # optional dependency, only needed for --tls

    os.makedirs(directory, exist_ok=True)
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost", "::1")
    files = TlsFiles(
        server_pem=os.path.join(directory, "server.pem"), ca_pem=os.path.join(directory, "ca.pem")
    )
    certificate.private_key_and_cert_chain_pem.write_to_path(files.server_pem)
    authority.cert_pem.write_to_path(files.ca_pem)
    return files
