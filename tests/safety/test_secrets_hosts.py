"""Hard-coded secrets and production hosts, in every language, comments included."""

from __future__ import annotations

import pytest

from aadap.core.enums import RiskLevel
from aadap.safety import analyze


@pytest.mark.parametrize(
    ("language", "code", "rule"),
    [
        ("python", 'password = "hunter22"', "secret.password"),
        ("python", 'DB_PWD="s3cret!"', "secret.password"),
        ("python", 'db_password: str = "s3cret!"', "secret.password"),
        ("python", 'cfg = {"password": "s3cret!"}', "secret.password"),
        ("python", 'api_key = "abcd1234efgh5678"', "secret.token"),
        ("python", 'token = "abcd1234efgh5678"', "secret.token"),
        ("pyspark", 'df = spark.read.option("password", "s3cret!").load()', "secret.password"),
        ("scala", 'val password = "s3cret!"', "secret.password"),
        ("sql", "CREATE USER etl IDENTIFIED BY 'S3cret!pass'", "secret.password"),
        (
            "python",
            "# old token dapi0123456789abcdef0123456789abcdef\nx = 1",
            "secret.databricks_token",
        ),
        ("python", 'k = "sk-abcdefghijklmnopqrstuvwx"', "secret.api_key"),
        ("sql", "-- AKIAIOSFODNN7EXAMPLE\nSELECT 1", "secret.aws_key"),
        (
            "python",
            'K = """-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"""',
            "secret.private_key",
        ),
        (
            "scala",
            'val u = "jdbc:sqlserver://h:1433;user=a;password=pw12345"',
            "secret.connection_string",
        ),
        (
            "python",
            'c = "Server=tcp:h.example.net;Database=d;Password=pw12345;"',
            "secret.connection_string",
        ),
        (
            "python",
            'e = create_engine("postgresql://etl:pa55@db.internal/x")',
            "secret.connection_string",
        ),
        (
            "python",
            'c = "DefaultEndpointsProtocol=https;AccountKey=' + "A" * 40 + '"',
            "secret.storage_key",
        ),
    ],
)
def test_secrets_are_found(language: str, code: str, rule: str) -> None:
    analysis = analyze(code, language=language)
    found = [f for f in analysis.findings if f.rule == rule]
    assert found, analysis.rules()
    assert found[0].severity >= RiskLevel.HIGH
    assert analysis.has_secret


@pytest.mark.parametrize(
    "code",
    [
        'password = os.environ["DB_PASSWORD"]',
        'password = dbutils.secrets.get(scope="kv", key="db-password")',
        'spark.read.option("password", dbutils.secrets.get("kv", "pwd"))',
        'password = ""',
        'password = "<your-password>"',
        'password = "${DB_PASSWORD}"',
        'conf = "{{secrets/kv/storage-key}}"',
        'token_url = "https://login.microsoftonline.com/t/oauth2/v2.0/token"',
        'secret_scope = "kv-sandbox"',
        'url = "postgresql://etl:{password}@db/x".format(password=p)',
        "max_tokens = 4096",
    ],
)
def test_secret_store_references_are_not_secrets(code: str) -> None:
    analysis = analyze(code, language="python")
    assert not analysis.has_secret, [f.to_dict() for f in analysis.findings]


def test_messages_never_repeat_the_secret_and_lines_are_right() -> None:
    analysis = analyze('x = 1\n\n# note\nDB_PASSWORD = "Winter2024!"\n', language="python")
    (finding,) = analysis.findings
    assert finding.line == 4
    assert "Winter2024" not in finding.message
    assert "Winter2024" not in str(analysis.to_dict())


def test_private_key_is_critical() -> None:
    analysis = analyze('K = "-----BEGIN RSA PRIVATE KEY-----"', language="python")
    assert analysis.risk is RiskLevel.CRITICAL


@pytest.mark.parametrize(
    ("code", "patterns", "hit"),
    [
        ('u = "jdbc:sqlserver://prod-db.company.com:1433"', ("prod",), True),
        ('u = "https://api.prod.company.com/v1"', ("*.prod.*",), True),
        ('c = "Server=prd-sql01;Database=x"', ("prd",), True),
        ('h = "warehouse.production.corp"', ("production",), True),
        ('u = "https://db.company.com"', ("db.company.com",), True),
        ('u = "https://eu.db.company.com"', ("db.company.com",), True),
        ('u = "https://product.company.com"', ("prod",), False),
        ('t = spark.table("prod.sales.orders")', ("prod",), False),
        ('u = "https://sandbox-db.company.com"', ("prod",), False),
        ('u = "jdbc:sqlserver://prod-db.company.com"', (), False),
    ],
)
def test_production_hosts(code: str, patterns: tuple[str, ...], hit: bool) -> None:
    analysis = analyze(code, language="python", production_host_patterns=patterns)
    assert ("host.production" in analysis.rules()) is hit
    if hit:
        assert analysis.risk is RiskLevel.HIGH


def test_hosts_and_secrets_in_sql_comments() -> None:
    analysis = analyze("-- source: postgresql://a:b3@prod-db.corp/x\nSELECT 1", language="sql")
    assert {"host.production", "secret.connection_string"} <= analysis.rules()
