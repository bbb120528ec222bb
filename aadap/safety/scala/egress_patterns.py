"""Network egress and secret-bearing files in Scala (the Python rules, by pattern).

* **Egress** (``scala.egress``, HIGH): ``new URL(...)``, ``Source.fromURL(...)``,
  sockets, ``InetAddress.getByName``, the ``requests``/scalaj ``Http`` clients take
  their destination as an argument: a string literal (or a ``val`` string constant)
  whose host is in ``egress_allowed_hosts`` is not a finding; any other host, or a
  destination only known at run time, is. Clients that take it elsewhere
  (``HttpClient``, ``HttpURLConnection``, ``.openConnection()``, ``.openStream()``,
  sttp, OkHttp, Apache ``HttpClients``) are findings unless every URL and URI written
  in the snippet is allow-listed. A network API imported under another name
  (``import scala.io.Source.{fromURL => grab}``) is a finding: the rename is not followed. A program started with ``!``/``Process`` whose
  command is a network tool (``curl``, ``wget``, ``nc``...) is egress as well.
* **Secret-bearing or system files** (``scala.sensitive_file``, HIGH): a string
  literal, or the literals of one statement joined (``"/et" + "c/passwd"``), naming
  ``/etc/...``, ``~/.ssh``, a key file, a key on DBFS (see :mod:`aadap.safety.exfiltration`).

Both in one snippet is ``egress.exfiltration`` (CRITICAL), added by
:mod:`aadap.safety.analyze`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from aadap.core.enums import Language, RiskLevel
from aadap.safety._line_index import LineIndex
from aadap.safety.exfiltration import sensitive_path
from aadap.safety.findings import Finding
from aadap.safety.production_hosts import host_allowed, url_host
from aadap.safety.scala.lexing import Masked
from aadap.safety.scala.literals import Literal, read_literal

_S = Language.SCALA
_NET = r"(?:java\s*\.\s*net\s*\.\s*)?"
# Calls whose first argument is the destination (a URL or a host name).
_TARGETED = re.compile(
    rf"\bnew\s+{_NET}(?:URL|Socket|DatagramSocket)\s*\(\s*"
    r"|\b(?:scala\s*\.\s*io\s*\.\s*)?Source\s*\.\s*fromURL\s*\(\s*"
    r"|\bInetAddress\s*\.\s*getByName\s*\(\s*"
    r"|\brequests\s*\.\s*(?:get|post|put|patch|delete|head|options|send)\s*\(\s*"
    r"|(?<![\w.])Http\s*\(\s*"
)
# URIs are not egress by themselves (Hadoop paths use them) but name a client's target.
_URI = re.compile(rf"\bURI\s*\.\s*create\s*\(\s*|\bnew\s+{_NET}URI\s*\(\s*|\buri\"")
# Clients whose destination is given elsewhere (a URI, a request builder, a URL object).
_CLIENTS = re.compile(
    r"\bHttps?URLConnection\b|\bHttpClient\b|\bHttpRequest\s*\.\s*newBuilder\b"
    r"|\.\s*open(?:Connection|Stream)\s*\(|\bSocketChannel\s*\.\s*open\b"
    r"|\b(?:basicRequest|quickRequest)\b|\bOkHttpClient\b|\bHttpClients\s*\."
    r"|\bServerSocket\b"
)
# ``import scala.io.Source.{fromURL => grab}``: the patterns cannot follow the new name.
_RENAMES = re.compile(r"\bimport\s+[\w.]+\s*\.\s*\{([^}]*=>[^}]*)\}")
_NETWORK_NAMES = frozenset(
    {"URL", "Socket", "DatagramSocket", "ServerSocket", "SocketChannel", "InetAddress", "URI"}
    | {"HttpURLConnection", "HttpsURLConnection", "HttpClient", "HttpRequest", "fromURL"}
    | {"OkHttpClient", "HttpClients", "Http", "requests", "basicRequest", "quickRequest"}
)
_SHELL = re.compile(
    r"\bProcess\s*\(|\bProcessBuilder\b|\bRuntime\s*\.\s*getRuntime\b|\bsys\s*\.\s*process\b"
    r"|[.\")]\s*!{1,2}(?![=\w])"
)
_LITERAL = re.compile(r'"""[^"]*(?:"(?!"")[^"]*)*"""|"[^"\n]*"')
_NET_TOOLS = frozenset(
    {"curl", "wget", "nc", "ncat", "netcat", "socat", "telnet", "ftp", "sftp", "scp", "ssh"}
    | {"rsync", "azcopy", "gsutil", "aws", "az"}
)
# Words every match of the patterns above contains: Python's ``re`` scans an alternation of
# ``\b``-anchored words slowly, so a pattern only runs when one of its words is present.
_TARGETED_WORDS = ("URL", "Socket", "InetAddress", "requests", "Http")
_CLIENT_WORDS = ("Http", "open", "Socket", "Request")
_SHELL_WORDS = ("Process", "Runtime", "process", "!")


def _has(code: str, words: tuple[str, ...]) -> bool:
    return any(word in code for word in words)


_EGRESS_HINT = (
    "Generated data code must not call the network; if the call is legitimate, "
    "list its host in AADAP_SAFETY_EGRESS_ALLOWED_HOSTS."
)
_FILE_HINT = "Read only data files in the workspace or the data roots; never credentials."


def _bodies(m: Masked) -> Iterator[tuple[int, str]]:
    """``(offset, contents)`` of every string literal, in order."""
    for match in _LITERAL.finditer(m.code):
        quote = 3 if match.group().startswith('"""') else 1
        yield match.start(), m.text[match.start() + quote : match.end() - quote]


def _host(literal: Literal) -> str | None:
    kind, text, _ = literal
    return url_host(text) if kind == "literal" else None


def scala_egress(
    m: Masked,
    line_of: LineIndex,
    spans: Sequence[tuple[int, int]],
    constants: dict[str, Literal],
    allowed_hosts: Sequence[str],
) -> list[Finding]:
    """``scala.egress`` and ``scala.sensitive_file`` findings of masked Scala code ``m``."""
    found: list[Finding] = []
    code = m.code
    targeted = list(_TARGETED.finditer(code)) if _has(code, _TARGETED_WORDS) else []
    for match in targeted:
        host = _host(read_literal(m, match.end(), constants))
        if host_allowed(host, allowed_hosts):
            continue
        call = re.sub(r"\s+", "", match.group()).rstrip("(")
        where = f"host {host}" if host else "a destination only known at run time"
        msg = f"{call}(...) reaches the network ({where})"
        found.append(_egress(line_of(match.start()), msg))
    client = _CLIENTS.search(code) if _has(code, _CLIENT_WORDS) else None
    if client is not None:
        targets = [_host(read_literal(m, u.end(), constants)) for u in _URI.finditer(code)]
        targets += [_host(read_literal(m, u.end(), constants)) for u in targeted]
        if not targets or not all(host_allowed(host, allowed_hosts) for host in targets):
            what = re.sub(r"\s+", "", client.group()).strip(".(")
            msg = f"{what} sends a request over the network"
            found.append(_egress(line_of(client.start()), msg))
    for match in _RENAMES.finditer(code) if "=>" in code else ():
        for part in match.group(1).split(","):
            original, arrow, _ = part.partition("=>")
            if arrow and original.strip() in _NETWORK_NAMES:
                msg = f"{original.strip()} is imported under another name the checks cannot follow"
                found.append(_egress(line_of(match.start()), msg))
    if _has(code, _SHELL_WORDS) and _SHELL.search(code):
        for offset, body in _bodies(m):
            words = body.split(None, 1)
            if words and words[0].rsplit("/", 1)[-1].lower() in _NET_TOOLS:
                msg = f"the command runs {words[0]}, which sends data over the network"
                found.append(_egress(line_of(offset), msg))
                break
    found.extend(_sensitive(m, line_of, spans))
    return found


def _sensitive(m: Masked, line_of: LineIndex, spans: Sequence[tuple[int, int]]) -> list[Finding]:
    """The first literal, or the literals of one statement joined, naming a sensitive file."""
    groups: dict[int, list[tuple[int, str]]] = {}
    index = 0  # literals and statements both come in order
    for offset, body in _bodies(m):
        while index < len(spans) and spans[index][1] <= offset:
            index += 1
        groups.setdefault(index, []).append((offset, body))
    for group in groups.values():
        texts = [body for _, body in group]
        if len(texts) > 1:
            texts.append("".join(texts))  # "/et" + "c/passwd"
        for text in texts:
            if sensitive_path(text):
                shown = text if len(text) <= 60 else text[:57] + "..."
                msg = f"reads or touches {shown!r}, a secret-bearing or system file"
                line = line_of(group[0][0])
                return [
                    Finding("scala.sensitive_file", RiskLevel.HIGH, line, msg, _FILE_HINT, None, _S)
                ]
    return []


def _egress(line: int, message: str) -> Finding:
    return Finding("scala.egress", RiskLevel.HIGH, line, message, _EGRESS_HINT, None, _S)
