"""Network egress and secret-bearing files in Python (after folding).

* **Egress**: HTTP clients (``requests``, ``httpx``, ``aiohttp``, ``urllib``,
  ``http.client``, ``urllib3``), raw sockets, FTP/SMTP/Telnet/SSH/WebSocket clients,
  and programs started with a network tool (``curl``, ``wget``, ``nc``, ``scp`` ...).
  A call whose URL folds to a host listed in ``egress_allowed_hosts`` is not a finding;
  any other host, or a URL only known at run time, is ``python.egress`` (HIGH).
  Client objects (``requests.Session()``) are judged at each request they make.
* **Secret-bearing or system files**: a call whose argument folds to a path under
  ``/etc``, ``/root``, ``/proc/self``, ``~/.ssh``, ``~/.aws``..., a key file (``*.pem``,
  ``id_rsa``...) or a key on DBFS is ``python.sensitive_file`` (HIGH).

Both in one snippet is an exfiltration (CRITICAL), added by :mod:`aadap.safety.analyze`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from aadap.core.enums import Language, RiskLevel
from aadap.safety.exfiltration import sensitive_path
from aadap.safety.findings import Finding
from aadap.safety.production_hosts import host_allowed, url_host
from aadap.safety.python.names import NameResolver

_HTTP_VERBS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream", "send"}
)
# Module functions that take a URL (first argument or ``url=``).
_URL_FUNCTIONS = frozenset(
    {f"requests.{verb}" for verb in _HTTP_VERBS}
    | {f"httpx.{verb}" for verb in _HTTP_VERBS}
    | {f"requests.api.{verb}" for verb in _HTTP_VERBS}
    | {
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        "urllib.request.Request",
        "urllib.urlopen",
        "urllib.urlretrieve",
        "urllib2.urlopen",
        "aiohttp.request",
        "urllib3.request",
        "xmlrpc.client.ServerProxy",
        "websocket.create_connection",
        "websockets.connect",
        "websockets.client.connect",
        "pandas.read_html",
    }
)
# Clients whose first argument (or ``host=``) is a host name.
_HOST_CLIENTS = frozenset(
    {
        "http.client.HTTPConnection",
        "http.client.HTTPSConnection",
        "ftplib.FTP",
        "ftplib.FTP_TLS",
        "smtplib.SMTP",
        "smtplib.SMTP_SSL",
        "poplib.POP3",
        "imaplib.IMAP4",
        "imaplib.IMAP4_SSL",
        "telnetlib.Telnet",
        "asyncio.open_connection",
        "socket.create_connection",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.getaddrinfo",
        "paramiko.SSHClient().connect",
    }
)
# Objects whose request methods are judged by their URL: ``requests.Session().get(url)``.
_CLIENT_OBJECTS = (
    "requests.Session()",
    "requests.session()",
    "requests.sessions.Session()",
    "httpx.Client()",
    "httpx.AsyncClient()",
    "aiohttp.ClientSession()",
    "urllib3.PoolManager()",
    "urllib.request.build_opener()",
)
_CLIENT_METHODS = _HTTP_VERBS | {"open", "urlopen", "ws_connect"}
# Always egress, whatever the host: raw sockets and transports the URL of which is set later.
_RAW = frozenset(
    {"socket.socket", "socket.socketpair", "ssl.wrap_socket", "pycurl.Curl", "socket.fromfd"}
)
_LAST = frozenset(
    {name.rsplit(".", 1)[-1] for name in _URL_FUNCTIONS | _HOST_CLIENTS | _RAW} | _CLIENT_METHODS
)
_URL_KEYWORDS = ("url", "host", "hostname", "address", "base_url", "uri")
_SHELLS = ("subprocess.", "os.system", "os.popen", "os.exec", "os.spawn", "os.posix_spawn")
_NET_TOOLS = frozenset(
    {
        "curl",
        "wget",
        "nc",
        "ncat",
        "netcat",
        "socat",
        "telnet",
        "ftp",
        "sftp",
        "scp",
        "ssh",
        "rsync",
        "azcopy",
        "gsutil",
        "aws",
        "az",
    }
)
_WORD = re.compile(r"[\w.+-]+")
_ARG_TYPES = (ast.JoinedStr, ast.BinOp, ast.Name, ast.Call, ast.List, ast.Tuple)
_PATHISH = re.compile(r"[/~\\]|id_|\.(?:pem|pfx|p12|jks|keystore|ppk|env|netrc|pgpass)")
# Calls that build a path or a string: their value is folded and checked.
_PATH_BUILDERS = frozenset(
    {"Path", "PurePath", "join", "expanduser", "home", "joinpath", "format", "str", "fspath"}
    | {"decode", "b64decode", "fromhex", "abspath", "normpath", "getenv", "get"}
)


def _path_call(node: ast.Call) -> bool:
    func = node.func
    last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return last in _PATH_BUILDERS


def _f(rule: str, line: int, message: str, hint: str, language: Language) -> Finding:
    return Finding(rule, RiskLevel.HIGH, line, message, hint, None, language)


_EGRESS_HINT = (
    "Generated data code must not call the network; if the call is legitimate, "
    "list its host in AADAP_SAFETY_EGRESS_ALLOWED_HOSTS."
)
_FILE_HINT = "Read only data files in the workspace or the data roots; never credentials."


def _argument(node: ast.Call, name: str) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg in _URL_KEYWORDS:
            return keyword.value
    if name.endswith(".request") and len(node.args) >= 2:
        return node.args[1]  # requests.request("POST", url)
    return node.args[0] if node.args else None


def _destination(node: ast.Call, names: NameResolver, name: str) -> str | None:
    """The host a call reaches, when it folds; ``None`` when only known at run time."""
    argument = _argument(node, name)
    if argument is None:
        return None
    if isinstance(argument, ast.Tuple) and argument.elts:  # (host, port)
        argument = argument.elts[0]
    text = names.text(argument)
    return None if text is None else url_host(text) or ""


def egress(
    node: ast.Call, names: NameResolver, allowed: Sequence[str], language: Language
) -> list[Finding]:
    """``python.egress`` when ``node`` reaches the network (not an allow-listed host)."""
    func = node.func
    last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if last in _READERS and node.args:
        return _remote_read(node, last, names, allowed, language)
    if (
        last not in _LAST
        and last not in names.aliases
        and not isinstance(func, ast.Call | ast.Subscript)  # clients["tcp"](...)
    ):
        return _command(node, names, language) if last in _SHELL_LAST else []
    resolved = names.resolve(func)
    line = node.lineno
    for name in sorted(resolved):
        if name in _RAW:
            msg = f"{name}() opens a raw network connection"
            return [_f("python.egress", line, msg, _EGRESS_HINT, language)]
        method = name.rsplit(".", 1)
        judged = (
            name in _URL_FUNCTIONS
            or name in _HOST_CLIENTS
            or (
                len(method) == 2
                and method[1] in _CLIENT_METHODS
                and method[0].endswith(_CLIENT_OBJECTS)
            )
        )
        if not judged:
            continue
        host = _destination(node, names, name)
        if host_allowed(host, allowed):
            return []
        where = f"host {host}" if host else "a host only known at run time"
        msg = f"{name}(...) sends a request over the network to {where}"
        return [_f("python.egress", line, msg, _EGRESS_HINT, language)]
    return _command(node, names, language) if any(n.startswith(_SHELLS) for n in resolved) else []


# Readers that fetch a URL themselves: pd.read_csv("https://..."), spark.read.json("http://...").
_READERS = frozenset(
    {"read_csv", "read_json", "read_parquet", "read_excel", "read_html", "read_table"}
    | {"read_xml", "read_fwf", "read_orc", "read_feather", "csv", "json", "parquet", "text"}
    | {"load", "urlretrieve", "get_file", "download", "download_file"}
)
_WEB = ("http://", "https://", "ftp://", "ftps://")


def _remote_read(
    node: ast.Call, last: str, names: NameResolver, allowed: Sequence[str], language: Language
) -> list[Finding]:
    """A reader handed a web URL fetches it: egress unless the host is allow-listed."""
    text = names.text(node.args[0])
    if text is None or not text.lower().startswith(_WEB):
        return []
    host = url_host(text)
    if host_allowed(host, allowed):
        return []
    msg = f".{last}(...) downloads from {host} over the network"
    return [_f("python.egress", node.lineno, msg, _EGRESS_HINT, language)]


_ENVIRON_VIEWS = frozenset({"copy", "items", "keys", "values"})


def environment_dump(node: ast.Call, names: NameResolver, language: Language) -> list[Finding]:
    """``dict(os.environ)``, ``os.environ.items()``, ``json.dumps(os.environ)``: every secret
    of the process's environment at once (reading one variable is fine)."""
    func = node.func
    candidates = [arg for arg in node.args if isinstance(arg, ast.Attribute | ast.Name)]
    if (
        isinstance(func, ast.Attribute)
        and func.attr in _ENVIRON_VIEWS
        and isinstance(func.value, ast.Attribute | ast.Name)
    ):
        candidates.append(func.value)
    for candidate in candidates:
        last = candidate.attr if isinstance(candidate, ast.Attribute) else candidate.id
        named = last == "environ" or last in names.aliases
        if named and "os.environ" in names.resolve(candidate):
            msg = "the code reads the whole process environment (where secrets live)"
            hint = "Read the one variable you need: os.environ['NAME']."
            return [_f("python.environment_dump", node.lineno, msg, hint, language)]
    return []


_SHELL_LAST = frozenset(
    {"system", "popen", "run", "call", "check_call", "check_output", "Popen", "getoutput"}
    | {"getstatusoutput", "execv", "execvp", "execl", "execlp", "spawnv", "spawnl"}
)


def _command(node: ast.Call, names: NameResolver, language: Language) -> list[Finding]:
    """A program started with a network tool: ``subprocess.run(["curl", ...])``."""
    if not node.args or not any(n.startswith(_SHELLS) for n in names.resolve(node.func)):
        return []
    words: set[str] = set()
    for text in names.folder.strings(node.args[0]):
        words.update(word.rsplit("/", 1)[-1].lower() for word in _WORD.findall(text))
    tools = sorted(words & _NET_TOOLS)
    if not tools:
        return []
    msg = f"the command runs {tools[0]}, which sends data over the network"
    return [_f("python.egress", node.lineno, msg, _EGRESS_HINT, language)]


def sensitive_files(node: ast.Call, names: NameResolver, language: Language) -> list[Finding]:
    """``python.sensitive_file`` when an argument of ``node`` names a secret-bearing file."""
    arguments = [*node.args, *(k.value for k in node.keywords)]
    if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.BinOp):
        arguments.append(node.func.value)  # (Path.home() / ".ssh" / "id_rsa").read_text()
    for argument in arguments:
        texts = _texts(argument, names)
        for text in texts:
            if sensitive_path(text):
                shown = text if len(text) <= 60 else text[:57] + "..."
                msg = f"reads or touches {shown!r}, a secret-bearing or system file"
                return [_f("python.sensitive_file", node.lineno, msg, _FILE_HINT, language)]
    return []


def _texts(argument: ast.expr, names: NameResolver) -> list[str]:
    """The strings ``argument`` may be, cheaply: only path-like literals and built strings."""
    if isinstance(argument, ast.Constant):
        value = argument.value
        return [value] if isinstance(value, str) and _PATHISH.search(value) else []
    if (isinstance(argument, ast.Name) and argument.id not in names.constants) or (
        isinstance(argument, ast.Call) and not _path_call(argument)
    ):
        return []
    if not isinstance(argument, _ARG_TYPES):
        return []
    texts = names.folder.strings(argument)
    if texts:
        return texts
    template = names.folder.template(argument)
    return [template] if template else []
