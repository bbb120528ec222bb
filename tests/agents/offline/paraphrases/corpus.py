"""The paraphrase corpus: requests as people write them, over two small datasets.

The requests were written from the point of view of someone who has never read the
offline grammar (``examples/README.md``), before the grammar was extended for them.
Two datasets live in ``data/``: a shop (``clients``, ``purchases``, where a purchase may
appear in several versions told apart by ``updated_at``) and a library (``books``,
``loans``, with exact duplicate loan rows). Every case names what it must produce,
computed independently in :mod:`.reference`; ``Refused`` cases are requests that are
genuinely ambiguous and must be refused with the candidates named.

Requests other than ``load`` run on a database that already holds the four tables,
loaded from the CSV files; ``load`` requests run on an empty database.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.agents.offline.paraphrases.reference import (
    Expect,
    Profiled,
    Refused,
    Sample,
    Tables,
    average,
    count,
    distinct,
    grouped,
    header,
    joined,
    maximum,
    month,
    newest,
    projected,
    rows,
    semi,
    single,
    total,
    whole,
)

KINDS = (
    "load", "filter", "compare", "deduplicate", "aggregate", "question", "join", "semijoin",
    "preview", "list", "profile", "ambiguous",
)  # fmt: skip
TABLES = ("clients", "purchases", "books", "loans")


@dataclass(frozen=True)
class Case:
    kind: str
    text: str
    expect: Expect
    table: str | None = None  # the table the request names for its result


def _paid(r: dict[str, str]) -> bool:
    return r["status"] == "paid"


def _load() -> list[Case]:
    c, p, b, lo = whole("clients"), whole("purchases"), whole("books"), whole("loans")
    return [
        Case("load", "Load the customer file data/clients.csv as table customers", c, "customers"),
        Case("load", "please load the file data/purchases.csv into a table called sales", p,
             "sales"),
        Case("load", "Could you import clients.csv for me? Call the table clients", c, "clients"),
        Case("load", "I need the purchases file data/purchases.csv loaded as purchases", p,
             "purchases"),
        Case("load", "upload data/books.csv and name the table books", b, "books"),
        Case("load", "read the loans file data/loans.csv into loans", lo, "loans"),
        Case("load", "Can you bring the file data/books.csv in as catalogue?", b, "catalogue"),
        Case("load", "ingest data/loans.csv", lo, "loans"),
        Case("load", "load 'data/clients.csv' into \"client_list\"", c, "client_list"),
        Case("load", "Import the CSV data/purchases.csv, save it as raw_purchases", p,
             "raw_purchases"),
        Case("load", "get data/books.csv into a new table named library_books", b,
             "library_books"),
        Case("load", "Hi! Please read data/loans.csv and store it as loan_history", lo,
             "loan_history"),
        Case("load", "create a table clients_raw from data/clients.csv", c, "clients_raw"),
        Case("load", "load the data from data/purchases.csv into a table purchases_2024", p,
             "purchases_2024"),
        Case("load", "I'd like to load the books file (data/books.csv) as table book", b, "book"),
    ]  # fmt: skip


def _filter() -> list[Case]:
    paid = whole("purchases", _paid)
    gold = whole("clients", lambda r: r["tier"] == "gold")
    fiction = whole("books", lambda r: r["genre"] == "fiction")
    open_loans = whole("loans", lambda r: r["returned"] == "false")
    fr = whole("clients", lambda r: r["country"] == "FR")
    not_refunded = whole("purchases", lambda r: r["status"] != "refunded")
    late = whole("loans", lambda r: float(r["late_fee"]) > 0)
    after = whole("purchases", lambda r: r["purchase_date"] > "2024-03-01")
    return [
        Case("filter", "keep only the paid purchases and save them as paid_purchases", paid,
             "paid_purchases"),
        Case("filter", "Please filter purchases to status paid, store as paid_purchases", paid,
             "paid_purchases"),
        Case("filter", "I need the purchases whose status is 'paid' in a table paid_purchases",
             paid, "paid_purchases"),
        Case("filter", "purchases where status = paid into paid_purchases", paid,
             "paid_purchases"),
        Case("filter", "Could you keep the gold clients only? Save it to gold_clients", gold,
             "gold_clients"),
        Case("filter", "select the clients with tier gold as gold_clients", gold, "gold_clients"),
        Case("filter", "get me the fiction books, save as fiction_books", fiction,
             "fiction_books"),
        Case("filter", "books whose genre is fiction -> fiction_books", fiction, "fiction_books"),
        Case("filter", "loans that have not been returned, i.e. returned = false, into open_loans",
             open_loans, "open_loans"),
        Case("filter", "keep loans where returned is false and call the result open_loans",
             open_loans, "open_loans"),
        Case("filter", "clients from country FR please, as french_clients", fr,
             "french_clients"),
        Case("filter", "remove the refunded purchases and save what is left as kept_purchases",
             not_refunded, "kept_purchases"),
        Case("filter", "drop purchases with status refunded, store the rest in kept_purchases",
             not_refunded, "kept_purchases"),
        Case("filter", "keep the loans with a late fee above 0 as late_loans", late,
             "late_loans"),
        Case("filter", "only purchases made after 2024-03-01, save to spring_purchases", after,
             "spring_purchases"),
        Case("filter", "purchases with a purchase date later than 2024-03-01 into "
             "spring_purchases", after, "spring_purchases"),
    ]  # fmt: skip


def _compare() -> list[Case]:
    big = whole("purchases", lambda r: float(r["amount"]) > 250)
    big_eq = whole("purchases", lambda r: float(r["amount"]) >= 250)
    thousand = whole("purchases", lambda r: float(r["amount"]) > 1000)
    fees = whole("loans", lambda r: float(r["late_fee"]) > 2)
    long_books = whole("books", lambda r: int(r["pages"]) > 300)
    cheap = whole("books", lambda r: float(r["price"]) < 20)
    small = whole("purchases", lambda r: float(r["amount"]) < 50)
    return [
        Case("compare", "purchases above 250 into big_purchases", big, "big_purchases"),
        Case("compare", "Keep the purchases over 250, save them as big_purchases", big,
             "big_purchases"),
        Case("compare", "I need all purchases of more than 250 in big_purchases", big,
             "big_purchases"),
        Case("compare", "filter purchases bigger than $250 and store as big_purchases", big,
             "big_purchases"),
        Case("compare", "purchases worth more than 250 EUR, as big_purchases", big,
             "big_purchases"),
        Case("compare", "purchases of at least 250 into big_purchases", big_eq, "big_purchases"),
        Case("compare", "keep purchases above 1,000 as huge_purchases", thousand,
             "huge_purchases"),
        Case("compare", "loans with more than 2 euros of late fee as costly_loans", fees,
             "costly_loans"),
        Case("compare", "loans above 2 into costly_loans", fees, "costly_loans"),
        Case("compare", "books with more than 300 pages, save as long_books", long_books,
             "long_books"),
        Case("compare", "books over 300 pages into long_books", long_books, "long_books"),
        Case("compare", "books under 20 euros as cheap_books", cheap, "cheap_books"),
        Case("compare", "purchases below 50 into small_purchases", small, "small_purchases"),
    ]  # fmt: skip


def _dedupe() -> list[Case]:
    latest = whole_rows("purchases", newest("purchases", "purchase_id", "updated_at"))
    first = whole_rows("purchases", newest("purchases", "purchase_id", "updated_at", earliest=True))
    loans = distinct("loans")
    return [
        Case("deduplicate", "deduplicate purchases on purchase_id keeping the latest by "
             "updated_at, save as purchases_clean", latest, "purchases_clean"),
        Case("deduplicate", "Please remove duplicate purchases (same purchase_id), keep the "
             "most recent by updated_at, into purchases_clean", latest, "purchases_clean"),
        Case("deduplicate", "keep the latest version of each purchase by updated_at as "
             "purchases_clean", latest, "purchases_clean"),
        Case("deduplicate", "I need one row per purchase_id from purchases, the newest by "
             "updated_at, in purchases_clean", latest, "purchases_clean"),
        Case("deduplicate", "dedupe purchases by purchase id, keeping the last updated one, "
             "call it purchases_clean", latest, "purchases_clean"),
        Case("deduplicate", "get rid of duplicate purchases on purchase_id keeping the latest "
             "updated_at into purchases_clean", latest, "purchases_clean"),
        Case("deduplicate", "keep the first version of each purchase_id in purchases by "
             "updated_at as purchases_first", first, "purchases_first"),
        Case("deduplicate", "deduplicate purchases on purchase_id keeping the earliest by "
             "updated_at into purchases_first", first, "purchases_first"),
        Case("deduplicate", "remove duplicate rows from loans and save as loans_clean", loans,
             "loans_clean"),
        Case("deduplicate", "Could you drop the duplicate loans? Store the result as "
             "loans_clean", loans, "loans_clean"),
        Case("deduplicate", "dedupe loans into loans_clean", loans, "loans_clean"),
        Case("deduplicate", "remove exact duplicates from the loans table, call it loans_clean",
             loans, "loans_clean"),
        Case("deduplicate", "de-duplicate loans please, save it to loans_clean", loans,
             "loans_clean"),
        Case("deduplicate", "eliminate duplicate records in loans -> loans_clean", loans,
             "loans_clean"),
    ]  # fmt: skip


def whole_rows(table: str, source: list[dict[str, str]]) -> Expect:
    return projected(header(table), source)


def _aggregate() -> list[Case]:
    per_client = grouped("purchases", lambda r: (r["client_id"],), total("amount"))
    per_status = grouped("purchases", lambda r: (r["status"],), count)
    monthly = grouped("purchases", lambda r: (month(r["purchase_date"]),), total("amount"))
    avg_genre = grouped("books", lambda r: (r["genre"],), average("pages"))
    per_member = grouped("loans", lambda r: (r["member"],), count)
    fee_member = grouped("loans", lambda r: (r["member"],), total("late_fee"))
    max_genre = grouped("books", lambda r: (r["genre"],), maximum("price"))
    per_author = grouped("books", lambda r: (r["author"],), count)
    per_country = grouped("clients", lambda r: (r["country"],), count)
    return [
        Case("aggregate", "total amount per client from purchases as client_totals",
             per_client, "client_totals"),
        Case("aggregate", "sum the amount of purchases by client_id into client_totals",
             per_client, "client_totals"),
        Case("aggregate", "Could you compute the total amount for each client in purchases? "
             "Save it as client_totals", per_client, "client_totals"),
        Case("aggregate", "count purchases by status and save it as status_counts",
             per_status, "status_counts"),
        Case("aggregate", "number of purchases per status, into status_counts", per_status,
             "status_counts"),
        Case("aggregate", "monthly total amount of purchases, save as monthly_sales", monthly,
             "monthly_sales"),
        Case("aggregate", "total amount of purchases by month into monthly_sales", monthly,
             "monthly_sales"),
        Case("aggregate", "average pages by genre from books as pages_by_genre", avg_genre,
             "pages_by_genre"),
        Case("aggregate", "I need the mean number of pages per genre in books, call it "
             "pages_by_genre", avg_genre, "pages_by_genre"),
        Case("aggregate", "count loans per member into loans_per_member", per_member,
             "loans_per_member"),
        Case("aggregate", "how many loans per member? save as loans_per_member", per_member,
             "loans_per_member"),
        Case("aggregate", "total late fee by member from loans, store as fees_by_member",
             fee_member, "fees_by_member"),
        Case("aggregate", "highest price per genre in books as top_price", max_genre,
             "top_price"),
        Case("aggregate", "group books by author and count them, into books_per_author",
             per_author, "books_per_author"),
        Case("aggregate", "number of books for each author as books_per_author", per_author,
             "books_per_author"),
        Case("aggregate", "count the clients in each country -> clients_per_country",
             per_country, "clients_per_country"),
    ]  # fmt: skip


def _question() -> list[Case]:
    revenue = single(sum(float(r["amount"]) for r in rows("purchases")))
    per_client = grouped("purchases", lambda r: (r["client_id"],), total("amount"))
    avg_price = grouped("books", lambda r: (r["genre"],), average("price"))
    per_member = grouped("loans", lambda r: (r["member"],), count)
    fees = single(sum(float(r["late_fee"]) for r in rows("loans")))
    per_tier = grouped("clients", lambda r: (r["tier"],), count)
    return [
        Case("question", "What is the total amount in purchases? Save it to purchase_total",
             revenue, "purchase_total"),
        Case("question", "What is the total amount per client in purchases? Save it to "
             "client_totals", per_client, "client_totals"),
        Case("question", "What's the total amount by client_id in purchases? Store the answer "
             "as client_totals", per_client, "client_totals"),
        Case("question", "How much did each client spend in purchases? Put the answer in "
             "client_totals", per_client, "client_totals"),
        Case("question", "What is the average price per genre in books? Save it to "
             "genre_prices", avg_price, "genre_prices"),
        Case("question", "what's the mean price by genre in books? store the answer as "
             "genre_prices", avg_price, "genre_prices"),
        Case("question", "How many loans does each member have in loans? Save the answer as "
             "member_loans", per_member, "member_loans"),
        Case("question", "What is the number of loans per member? Save it to member_loans",
             per_member, "member_loans"),
        Case("question", "What is the sum of late_fee in loans? Save it to total_fees", fees,
             "total_fees"),
        Case("question", "What are the total late fees in loans? Store the answer as "
             "total_fees", fees, "total_fees"),
        Case("question", "How many clients are there per tier? Save it to tier_counts",
             per_tier, "tier_counts"),
        Case("question", "What is the count of clients by tier in clients? Keep it as "
             "tier_counts", per_tier, "tier_counts"),
    ]  # fmt: skip


def _join() -> list[Case]:
    pc = joined("purchases", "clients", "client_id", ("purchase_id", "amount", "country"))
    lb = joined("loans", "books", "book_id", ("loan_id", "member", "title"))
    return [
        Case("join", "join purchases with clients on client_id into purchases_clients", pc,
             "purchases_clients"),
        Case("join", "Please combine purchases and clients by client_id, save as "
             "purchases_clients", pc, "purchases_clients"),
        Case("join", "enrich purchases with the clients data and store it as "
             "purchases_clients", pc, "purchases_clients"),
        Case("join", "add the client details to purchases, call it purchases_clients", pc,
             "purchases_clients"),
        Case("join", "merge purchases with clients into purchases_clients", pc,
             "purchases_clients"),
        Case("join", "left join purchases to clients using client_id as purchases_clients", pc,
             "purchases_clients"),
        Case("join", "join loans and books on book_id, save it to loans_books", lb,
             "loans_books"),
        Case("join", "I need loans joined with books, in loans_books", lb, "loans_books"),
        Case("join", "enrich loans with books into loans_books", lb, "loans_books"),
        Case("join", "could you match each loan with its book? save as loans_books", lb,
             "loans_books"),
        Case("join", "bring the book info into loans via book_id and store as loans_books", lb,
             "loans_books"),
        Case("join", "combine loans with the books table and call the result loans_books", lb,
             "loans_books"),
    ]  # fmt: skip


def _semijoin() -> list[Case]:
    gold = semi("purchases", "clients", "client_id", lambda r: r["tier"] == "gold")
    fr = semi("purchases", "clients", "client_id", lambda r: r["country"] == "FR")
    fiction = semi("loans", "books", "book_id", lambda r: r["genre"] == "fiction")
    pricey = semi("loans", "books", "book_id", lambda r: float(r["price"]) > 30)
    return [
        Case("semijoin", "purchases whose client_id appears in clients with tier gold, as "
             "gold_purchases", gold, "gold_purchases"),
        Case("semijoin", "keep the purchases of clients whose tier is gold, save as "
             "gold_purchases", gold, "gold_purchases"),
        Case("semijoin", "only purchases made by gold clients, i.e. clients with tier = "
             "'gold', into gold_purchases", gold, "gold_purchases"),
        Case("semijoin", "filter purchases to those whose client is in clients where tier is "
             "gold, store as gold_purchases", gold, "gold_purchases"),
        Case("semijoin", "rows of purchases whose client_id is in clients with tier = 'gold' "
             "into gold_purchases", gold, "gold_purchases"),
        Case("semijoin", "purchases where the client's country is FR, as french_purchases", fr,
             "french_purchases"),
        Case("semijoin", "keep purchases whose client_id appears in clients with country FR, "
             "save to french_purchases", fr, "french_purchases"),
        Case("semijoin", "loans whose book_id appears in books with genre fiction, into "
             "fiction_loans", fiction, "fiction_loans"),
        Case("semijoin", "keep the loans of books whose genre is fiction as fiction_loans",
             fiction, "fiction_loans"),
        Case("semijoin", "loans of fiction books (books with genre = 'fiction'), save as "
             "fiction_loans", fiction, "fiction_loans"),
        Case("semijoin", "only loans whose book is in books where price > 30, store as "
             "pricey_loans", pricey, "pricey_loans"),
        Case("semijoin", "loans whose book_id is in books with a price above 30 into "
             "pricey_loans", pricey, "pricey_loans"),
    ]  # fmt: skip


def _preview() -> list[Case]:
    return [
        Case("preview", "show me 5 rows from purchases", Sample(5, "purchases")),
        Case("preview", "give me a peek at clients", Sample(10, "clients")),
        Case("preview", "Can you show me the first 3 books?", Sample(3, "books")),
        Case("preview", "preview loans", Sample(10, "loans")),
        Case("preview", "let me see 4 rows of the clients table", Sample(4, "clients")),
        Case("preview", "show a few rows from books", Sample(10, "books")),
        Case("preview", "peek at data/purchases.csv", Sample(10, "purchases")),
        Case("preview", "what does the loans table look like?", Sample(10, "loans")),
        Case("preview", "show me the top 2 purchases", Sample(2, "purchases")),
        Case("preview", "display 6 clients", Sample(6, "clients")),
        Case("preview", "give me a quick look at the books file data/books.csv",
             Sample(10, "books")),
        Case("preview", "Please show 7 records of loans", Sample(7, "loans")),
        Case("preview", "sample 5 rows from clients", Sample(5, "clients")),
        Case("preview", "first 8 lines of purchases please", Sample(8, "purchases")),
    ]  # fmt: skip


def _list() -> list[Case]:
    every = Tables(frozenset(TABLES))
    texts = [
        "list tables", "what tables do I have?", "Which tables are available?",
        "show me the tables", "please list all my tables", "what tables exist in the database?",
        "can you list the tables for me", "show tables", "what's in the database?",
        "tables please", "list all available tables",
    ]  # fmt: skip
    return [Case("list", text, every) for text in texts]


def _profile() -> list[Case]:
    return [
        Case("profile", "profile purchases", Profiled("purchases")),
        Case("profile", "summarize the clients table", Profiled("clients")),
        Case("profile", "describe books", Profiled("books")),
        Case("profile", "give me statistics for loans", Profiled("loans")),
        Case("profile", "Could you profile the books table for me?", Profiled("books")),
        Case("profile", "column stats of purchases please", Profiled("purchases")),
        Case("profile", "get me a summary of clients", Profiled("clients")),
        Case("profile", "profile the file data/loans.csv", Profiled("loans")),
        Case("profile", "what do the columns of purchases look like? profile it",
             Profiled("purchases")),
        Case("profile", "show summary statistics for books", Profiled("books")),
    ]  # fmt: skip


def _ambiguous() -> list[Case]:
    both = Refused(("pages", "price"))
    return [
        Case("ambiguous", "books above 300 into big_books", both),
        Case("ambiguous", "keep the books over 25, save as big_books", both),
        Case("ambiguous", "books of more than 100 as big_books", both),
        Case("ambiguous", "filter books below 20 into small_books", both),
        Case("ambiguous", "I need the books with at least 400 in a table big_books", both),
        Case("ambiguous", "books bigger than 30, store as big_books", both),
    ]  # fmt: skip


def cases() -> list[Case]:
    return [
        *_load(), *_filter(), *_compare(), *_dedupe(), *_aggregate(), *_question(), *_join(),
        *_semijoin(), *_preview(), *_list(), *_profile(), *_ambiguous(),
    ]  # fmt: skip
