"""SQL side doors: statements that change the engine's security, load code, or leave the workspace.

Judged on each statement's text (parsed or not, in every dialect), so a construct
sqlglot reads as a harmless ``Set``/``Pragma``/``Command`` is still seen:

* **Security settings**: DuckDB ``SET``/``RESET``/``PRAGMA`` of ``enable_external_access``,
  ``allowed_directories``, ``lock_configuration``...; Spark/Databricks ``SET`` of ACL,
  credential, class-path and retention-check keys; T-SQL ``sp_configure``/``RECONFIGURE``.
* **Code loading**: DuckDB ``INSTALL``/``LOAD`` of extensions; Spark ``ADD JAR|FILE|ARCHIVE``
  and ``CREATE FUNCTION ... USING JAR`` (or ``LANGUAGE PYTHON``); T-SQL ``xp_cmdshell``,
  ``sp_OACreate``, ``sp_execute_external_script``, ``CREATE ASSEMBLY``; Hive-style
  ``CREATE [TEMPORARY] FUNCTION f AS 'com.x.Udf'`` (a class loaded into the engine).
* **Dynamic SQL and impersonation** (T-SQL): ``EXEC(...)``/``sp_executesql`` (HIGH, with
  the keywords of its literals joined), ``EXECUTE AS LOGIN|USER`` anywhere in a batch.
* **Leaving the workspace**: ``COPY ... TO``, ``EXPORT DATABASE``, ``ATTACH`` and
  ``BACKUP ... TO`` a path outside the workspace (absolute, ``~``, ``..``) or a remote
  URL; T-SQL ``OPENROWSET``/``OPENDATASOURCE``/``OPENQUERY``/``BULK INSERT``/linked
  servers/``sp_send_dbmail``; reading a remote URL (``http(s)://``, and in DuckDB also
  ``s3://``, ``gs://``, ``az://``...), unless its host is allow-listed.
* **Secret-bearing files**: a literal naming ``/etc/...``, ``~/.ssh/...``, key files.

``COPY ... TO 'out/x.parquet'`` (a relative path in the workspace) stays a normal write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aadap.core.enums import Language, OperationClass, RiskLevel
from aadap.safety.exfiltration import sensitive_path
from aadap.safety.findings import Finding
from aadap.safety.production_hosts import host_allowed, url_host
from aadap.safety.sql.keywords import scan_keywords

_D = OperationClass.DESTRUCTIVE
_P = OperationClass.PERMISSION_CHANGE
# Cheap test before the literals are read: a remote URL or a path worth a look.
_LITERAL_MARKERS = re.compile(
    r"://|/etc|/root|/proc|/boot|/sys|/run|/var|~|\.ssh|id_|\.pem|\.key|\.env|dbfs"
    r"|\.pfx|\.p12|\.jks|keystore|\.ppk|credentials|netrc|pgpass",
    re.IGNORECASE,
)
_LITERAL = re.compile(r"'((?:[^'\n]|''){0,2000})'")
_DUCKDB_SECURITY = frozenset(
    {
        "enable_external_access",
        "allowed_directories",
        "allowed_paths",
        "lock_configuration",
        "allow_unsigned_extensions",
        "allow_community_extensions",
        "allow_extensions_metadata_mismatch",
        "allow_unredacted_secrets",
        "allow_persistent_secrets",
        "autoinstall_known_extensions",
        "autoload_known_extensions",
        "autoinstall_extension_repository",
        "custom_extension_repository",
        "extension_directory",
        "secret_directory",
        "home_directory",
        "temp_directory",
        "disabled_filesystems",
        "enable_http_logging",
        "http_logging_output",
        "http_proxy",
        "s3_endpoint",
        "enable_server_cert_verification",
    }
)
# Spark keys that open a door (ACLs, Py4J, class path, the Delta retention check...). Storage
# credentials (fs.azure.account.key...) are configuration: hard-coded values are secrets.
_SPARK_SECURITY = re.compile(
    r"acl|secur|passthrough|spark\.authenticate|\.jars|jars\.|classpath|extrajavaoptions"
    r"|extralibrarypath|spark\.sql\.extensions|retentiondurationcheck|spark\.ssl"
    r"|allowedlanguages|py4j|unitycatalog|spark\.hadoop\.|redaction|spark\.sql\.warehouse\.dir",
    re.IGNORECASE,
)
_SETTING = re.compile(
    r"^\s*(?:SET|RESET|PRAGMA)\s+(?:(?:GLOBAL|SESSION|LOCAL|VARIABLE)\s+)?([\w.`\"-]+)",
    re.IGNORECASE,
)
_EXTENSION = re.compile(
    r"^\s*(?:FORCE\s+INSTALL|INSTALL|LOAD(?!\s+DATA\b)|UPDATE\s+EXTENSIONS)\b", re.IGNORECASE
)
_ADD_RESOURCE = re.compile(r"^\s*ADD\s+(?:JARS?|FILES?|ARCHIVES?)\b", re.IGNORECASE)
_EXTERNAL_FUNCTION = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?FUNCTION\b"
    r"(?:[\s\S]*?\b(?:USING\s+(?:JAR|FILE|ARCHIVE)|LANGUAGE\s+(?:PYTHON|SCALA|JAVA|JAVASCRIPT))\b"
    # Hive-style ``CREATE [TEMPORARY] FUNCTION f AS 'com.x.Udf'``: a class loaded into the
    # engine, whether its jar comes with ``USING JAR`` or is already on the class path.
    r"|\s+(?:IF\s+NOT\s+EXISTS\s+)?[\w.`]+\s+AS\s+')",
    re.IGNORECASE,
)
_OS_COMMAND = re.compile(
    r"\b(?:xp_cmdshell|sp_oacreate|sp_oamethod|sp_execute_external_script|xp_dirtree|xp_subdirs"
    r"|xp_fileexist|xp_regread|xp_regwrite)\b|^\s*CREATE\s+ASSEMBLY\b",
    re.IGNORECASE,
)
_CONFIGURE = re.compile(r"\bsp_configure\b|^\s*RECONFIGURE\b", re.IGNORECASE)
_EXTERNAL_DATA = re.compile(
    r"\b(?:OPENROWSET|OPENDATASOURCE|OPENQUERY|sp_addlinkedserver|sp_addlinkedsrvlogin)\b"
    r"|\bBULK\s+INSERT\b|^\s*CREATE\s+EXTERNAL\s+(?:DATA\s+SOURCE|TABLE)\b",
    re.IGNORECASE,
)
# T-SQL dynamic SQL: ``EXEC('DR' + 'OP ...')``, ``EXEC sp_executesql N'...'``, ``EXEC(@sql)``.
_DYNAMIC = re.compile(r"\bEXEC(?:UTE)?\s*\(|\bsp_executesql\b", re.IGNORECASE)
_MAIL = re.compile(r"\b(?:sp_send_dbmail|xp_sendmail|xp_startmail)\b", re.IGNORECASE)
_CREDENTIAL = re.compile(
    r"^\s*(?:CREATE|ALTER)\s+(?:DATABASE\s+SCOPED\s+)?CREDENTIAL\b"
    r"|\bEXEC(?:UTE)?\s+AS\s+(?:LOGIN|USER)\b"
    r"|^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:PERSISTENT\s+|TEMPORARY\s+)?SECRET\b",
    re.IGNORECASE,
)
_LEAVES = re.compile(
    r"^\s*COPY\b[\s\S]*?\bTO\s+'([^']*)'"
    r"|^\s*EXPORT\s+DATABASE\s+(?:\w+\s+)?'([^']*)'"
    r"|^\s*ATTACH\s+(?:DATABASE\s+)?(?:IF\s+NOT\s+EXISTS\s+)?'([^']*)'"
    r"|^\s*BACKUP\s+(?:DATABASE|LOG)\b[\s\S]*?\bTO\s+(?:DISK|URL|TAPE)\s*=\s*N?'([^']*)'",
    re.IGNORECASE,
)
_ATTACH_REMOTE = re.compile(r"\bTYPE\s+(?:postgres|mysql|sqlite_scanner|motherduck)\b", re.I)
_REMOTE_ANY = re.compile(
    r"^(?:https?|ftps?|s3a?|s3n|gs|gcs|az|azure|abfss?|wasbs?|r2|hf|md|motherduck|postgres(?:ql)?"
    r"|mysql):",
    re.IGNORECASE,
)
_REMOTE_WEB = re.compile(r"^(?:https?|ftps?)://", re.IGNORECASE)
_WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


def _outside(path: str) -> bool:
    """A path that is not inside the workspace: absolute, home-relative, ``..`` or remote."""
    value = path.strip()
    if _REMOTE_ANY.match(value) or _WINDOWS_ABSOLUTE.match(value):
        return True
    if value.startswith(("/", "~")):
        return True
    return ".." in re.split(r"[\\/]", value)


def _f(
    rule: str,
    severity: RiskLevel,
    line: int,
    language: Language,
    message: str,
    hint: str,
    op: OperationClass | None,
) -> Finding:
    return Finding(rule, severity, line, message, hint, op, language)


_HEADS = frozenset(
    {"SET", "RESET", "PRAGMA", "INSTALL", "FORCE", "LOAD", "UPDATE", "ADD", "CREATE", "ALTER"}
    | {"COPY", "EXPORT", "ATTACH", "BACKUP", "RECONFIGURE", "BULK", "EXECUTE"}
)
_TSQL_MARKERS = ("xp_", "sp_", "open", "bulk", "reconfigure", "assembly", "exec")


def side_doors(
    text: str, line: int, language: Language, *, duckdb: bool, allowed_hosts: Sequence[str]
) -> list[Finding]:
    """Side-door findings for one statement's ``text`` (``duckdb``: the DuckDB engine)."""
    head = text.split(None, 1)[0].upper() if text.strip() else ""
    tsql = any(marker in text.lower() for marker in _TSQL_MARKERS)
    found: list[Finding] = []
    if head in _HEADS or tsql:
        found.extend(_settings(text, line, language, duckdb=duckdb))
        found.extend(_code_loading(text, line, language))
    if head in _HEADS:
        found.extend(_destinations(text, line, language))
    if tsql or head in {"CREATE", "EXECUTE", "EXEC"}:
        found.extend(_tsql(text, line, language, allowed_hosts))
    if "'" in text and _LITERAL_MARKERS.search(text):
        found.extend(_literals(text, line, language, duckdb=duckdb, allowed_hosts=allowed_hosts))
    return found


def security_setting(key: str, *, duckdb: bool) -> bool:
    """``key`` is an engine security setting (DuckDB's always; Spark's unless ``duckdb``)."""
    key = key.strip("`\"' ").lower()
    return key in _DUCKDB_SECURITY or (not duckdb and _SPARK_SECURITY.search(key) is not None)


def _settings(text: str, line: int, language: Language, *, duckdb: bool) -> list[Finding]:
    match = _SETTING.match(text)
    hint = (
        "Engine security settings are fixed by the platform; generated code must not change them."
    )
    if match is not None:
        key = match.group(1).strip('`"').lower()
        if security_setting(key, duckdb=duckdb):
            verb = text.split(None, 1)[0].upper()
            msg = f"{verb} {key} changes an engine security setting"
            return [_f("sql.security_setting", RiskLevel.HIGH, line, language, msg, hint, None)]
    if _CONFIGURE.search(text):
        msg = "sp_configure/RECONFIGURE changes the server configuration"
        return [_f("sql.security_setting", RiskLevel.HIGH, line, language, msg, hint, None)]
    return []


def _code_loading(text: str, line: int, language: Language) -> list[Finding]:
    hint = "Extensions, jars and external functions are installed by the platform, not by generated code."
    if _EXTENSION.match(text):
        msg = f"{' '.join(text.split()[:2])} installs or loads an engine extension (native code)"
        return [_f("sql.extension", RiskLevel.HIGH, line, language, msg, hint, _D)]
    if _ADD_RESOURCE.match(text):
        msg = f"{' '.join(text.split()[:2]).upper()} loads code or files into the cluster"
        return [_f("sql.add_resource", RiskLevel.HIGH, line, language, msg, hint, _D)]
    if _EXTERNAL_FUNCTION.match(text):
        msg = "CREATE FUNCTION runs code from a jar, file or another language that is not checked"
        return [_f("sql.external_function", RiskLevel.HIGH, line, language, msg, hint, _D)]
    if _OS_COMMAND.search(text):
        msg = "the statement runs operating-system or external code on the server"
        hint = "Never run shell or external code from SQL."
        return [_f("sql.os_command", RiskLevel.CRITICAL, line, language, msg, hint, _D)]
    return []


def _tsql(text: str, line: int, language: Language, allowed_hosts: Sequence[str]) -> list[Finding]:
    found: list[Finding] = []
    hint = "Read only the tables and files of the workspace; external sources need approval."
    if _EXTERNAL_DATA.search(text):
        urls = [url_host(v) for v in _LITERAL.findall(text) if _REMOTE_WEB.match(v)]
        if not (urls and all(host_allowed(h, allowed_hosts) for h in urls)):
            msg = "the statement reads from an external data source or server"
            found.append(_f("sql.external_data", RiskLevel.HIGH, line, language, msg, hint, None))
    if _MAIL.search(text):
        msg = "the statement sends e-mail from the server"
        found.append(_f("sql.remote_access", RiskLevel.HIGH, line, language, msg, hint, None))
    if _DYNAMIC.search(text):
        msg = "the statement runs SQL text built at run time (EXEC(...)/sp_executesql)"
        hint = "Write the statement itself; dynamic SQL cannot be checked before it runs."
        found.append(_f("sql.dynamic_sql", RiskLevel.HIGH, line, language, msg, hint, None))
        literals = "".join(value.replace("''", "'") for value in _LITERAL.findall(text))
        found.extend(scan_keywords(literals, line, language))  # EXEC('DR' + 'OP TABLE t')
    if _CREDENTIAL.search(text):
        msg = "the statement creates a credential or changes the security context"
        hint = "Credentials and impersonation are managed by the platform."
        found.append(_f("sql.credential", RiskLevel.HIGH, line, language, msg, hint, _P))
    return found


def _destinations(text: str, line: int, language: Language) -> list[Finding]:
    match = _LEAVES.match(text)
    if match is None:
        return []
    path = next(group for group in match.groups() if group is not None)
    verb = text.split(None, 1)[0].upper()
    remote_attach = verb.startswith("ATTACH") and _ATTACH_REMOTE.search(text)
    if not (_outside(path) or remote_attach):
        return []
    hint = "Write only inside the workspace (a relative path); exports elsewhere need approval."
    msg = f"{verb} {path!r} reaches outside the workspace"
    return [_f("sql.outside_workspace", RiskLevel.HIGH, line, language, msg, hint, _D)]


def _literals(
    text: str, line: int, language: Language, *, duckdb: bool, allowed_hosts: Sequence[str]
) -> list[Finding]:
    found: list[Finding] = []
    remote = _REMOTE_ANY if duckdb else _REMOTE_WEB
    for value in _LITERAL.findall(text):
        if "://" in value and remote.match(value):
            host = url_host(value)
            if not host_allowed(host, allowed_hosts):
                msg = f"the statement reaches the network ({value.split('://', 1)[0]}://{host})"
                hint = "Read data from the workspace; list legitimate hosts in AADAP_SAFETY_EGRESS_ALLOWED_HOSTS."
                found.append(
                    _f("sql.remote_access", RiskLevel.HIGH, line, language, msg, hint, None)
                )
                break
    for value in _LITERAL.findall(text):
        if sensitive_path(value):
            shown = value if len(value) <= 60 else value[:57] + "..."
            msg = f"the statement reads or writes {shown!r}, a secret-bearing or system file"
            hint = "Read only data files in the workspace or the data roots; never credentials."
            found.append(_f("sql.sensitive_file", RiskLevel.HIGH, line, language, msg, hint, None))
            break
    return found
