"""The offline LLM provider: deterministic, rule-based, no network, zero cost.

:class:`OfflineLLMClient` is a rule-based implementation of the agents. It gets what an
OpenAI-compatible endpoint gets, the agent's prompt, and reads the facts the agent put in
its TASK section (``_reading.py``: the request, the requirement, the schema hints, the
code…) instead of understanding prose; then it does real work: it reads file headers with DuckDB,
resolves column names against the schema hints, and writes working DuckDB SQL for the
local platform. Anything outside the grammar below raises
:class:`~aadap.core.exceptions.LLMUnsupportedRequestError`, whose message says how to
configure a real provider (``AADAP_LLM_PROVIDER=openai`` with ``AADAP_LLM_BASE_URL``
and ``AADAP_LLM_API_KEY``). It never invents code.

Grammar (case-insensitive; quote values or names with spaces)
-------------------------------------------------------------

Whole-request commands:

* run SQL: ``run: SELECT …``, ``execute `…```, ``run this SQL: …`` (fenced or quoted
  statements too) → the statement, unchanged;
* list tables: ``list tables``, ``show me all tables``, ``what tables are there?``;
* preview: ``preview X``, ``show me the first 5 rows of X``, ``peek at X``,
  ``top 20 rows from X where …`` → ``SELECT * … LIMIT n`` (10 by default);
* profile: ``profile X``, ``summarize X``, ``describe X``, ``get stats for X``,
  ``describe stats of X`` → ``SUMMARIZE``.

X is a table (it must be in the schema hints when any are given) or a file path.

Pipelines: clauses separated by commas, "then", "and" (before a verb) or sentences,
applied in order and compiled into ONE ``CREATE TABLE … AS [WITH …] SELECT`` statement:

* load: ``load|import|ingest|read|bring in|pull in|copy|upload <file>`` (csv, tsv,
  parquet, json/jsonl/ndjson) → ``read_csv_auto`` / ``read_parquet`` / ``read_json_auto``;
  ``load orders from data/orders.csv`` names the table;
* filter: ``filter|keep|select|only [rows|X] where|with|whose <conditions>``;
  ``exclude|remove|drop|filter out … where …`` negates. Conditions are ANDed:
  ``amount > 100``, ``status = 'shipped'``, ``status is shipped``, ``amount at least 50``,
  ``order_date after 2024-03-01``, ``region in ('EU', 'US')``, ``amount between 10 and 20``,
  ``email is null``, ``name contains 'x'``, ``starts with``, ``ends with``;
* deduplicate: ``dedupe|deduplicate|remove duplicates [X] [on|by <keys>]
  [keeping the latest|first by <column>]``; ``keep the latest row per <keys> by <column>``;
* aggregate: ``[compute|calculate|write|…] <measures> [of X] by|per|for each <groups>
  [using <date column>]``; ``group X by <groups> [and|with <measures>]``. Measures:
  ``revenue``/``sales``/``total`` (sum of the amount-like column), ``sum|total of c``,
  ``average|avg|mean c``, ``min|max c``, ``count``, ``count|number of X``,
  ``count of distinct c``. Time grains: ``hourly|daily|weekly|monthly|quarterly|yearly``
  or ``by day|week|month|…`` (``month of <column>``) → ``date_trunc``;
* join: ``[left|inner|right|full] join [A] with|and|to B [on k | on a = b]``;
  ``enrich [A] with B [on k]`` (left join). Keys are inferred from a single shared
  ``*_id`` column when not given;
* target: ``into|as <table>``, ``and save|write|store it as|to|into <table>``,
  ``call it <table>``; ``replacing it`` / ``overwrite`` → ``CREATE OR REPLACE``. Without a
  target the name derives from the input (``orders_dedup``, ``orders_by_day_region``…).

Everyday wording is first rewritten onto this grammar by exact, meaning-preserving rules
(``_phrasing.py``: politeness, "the customer file PATH", "What is … in T? Save it to U",
"how many X per G", "-> T", "1,000"…). Also understood:

* a comparison without a column (``purchases above 250``, ``books over 300 pages``,
  ``bigger than $250``, ``made after 2024-03-01``): the column is the unit's, the date
  column, the one money-like column or the one numeric measure; several candidates →
  refused, naming them;
* a count comparison (``clients with more than 2 purchases``): B counted per key, the
  counts filtered, A joined (or, when A is a column of B, the counts per value);
* a semi-join (``A whose key appears in B with …``, ``the A of B whose …``, ``A where the
  B's c is v``) → an inner join with B and a filter on B's columns, only when the key is
  B's own identifier (``id`` or ``<B singular>_id``), so no row of A repeats.

A refusal names the words not understood and suggests one to three requests in the
grammar built from the recognised files, tables and columns (``_suggest.py``; in the
error's ``details`` and message). Requests over 2,000 characters are refused at once.

Columns come from the request, the schema hints or the file header (``order id`` →
``order_id``, ``customer`` → ``customer_id``); unknown or ambiguous columns, missing
files and tables, "or" conditions and other platforms than local are refused.
Relative paths resolve against the working directory (or its ``data/`` folder).
"""

from aadap.agents.offline._client import MODEL, OfflineLLMClient
from aadap.agents.offline._unsupported import CONFIGURE_HINT, SUPPORTED_FAMILY

__all__ = ["CONFIGURE_HINT", "MODEL", "SUPPORTED_FAMILY", "OfflineLLMClient"]
