"""AWS's TICKIT sample schema (tables as in AWS's tutorial DDL) with data generated inside the database.

Rows come from INSERT ... SELECT over generate_series with integer hashing of the row number and the seed, so a
seed always gives the same rows and a large --scale (multi-GB `sales`) costs no Python time per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SCHEMA = "tickit"

# AWS's CREATE TABLE statements for TICKIT, schema-qualified.
DDL: dict[str, str] = {
    "users": """create table tickit.users(
  userid integer not null distkey sortkey, username char(8), firstname varchar(30), lastname varchar(30),
  city varchar(30), state char(2), email varchar(100), phone char(14), likesports boolean, liketheatre boolean,
  likeconcerts boolean, likejazz boolean, likeclassical boolean, likeopera boolean, likerock boolean,
  likevegas boolean, likebroadway boolean, likemusicals boolean)""",
    "venue": """create table tickit.venue(
  venueid smallint not null distkey sortkey, venuename varchar(100), venuecity varchar(30),
  venuestate char(2), venueseats integer)""",
    "category": """create table tickit.category(
  catid smallint not null distkey sortkey, catgroup varchar(10), catname varchar(10), catdesc varchar(50))""",
    "date": """create table tickit.date(
  dateid smallint not null distkey sortkey, caldate date not null, day character(3) not null,
  week smallint not null, month character(5) not null, qtr character(5) not null, year smallint not null,
  holiday boolean default('N'))""",
    "event": """create table tickit.event(
  eventid integer not null distkey, venueid smallint not null, catid smallint not null,
  dateid smallint not null sortkey, eventname varchar(200), starttime timestamp)""",
    "listing": """create table tickit.listing(
  listid integer not null distkey, sellerid integer not null, eventid integer not null,
  dateid smallint not null sortkey, numtickets smallint not null, priceperticket decimal(8,2),
  totalprice decimal(8,2), listtime timestamp)""",
    "sales": """create table tickit.sales(
  salesid integer not null, listid integer not null distkey, sellerid integer not null,
  buyerid integer not null, eventid integer not null, dateid smallint not null sortkey,
  qtysold smallint not null, pricepaid decimal(8,2), commission decimal(8,2), saletime timestamp)""",
}

CATEGORIES = (
    (1, "Sports", "MLB", "Major League Baseball"), (2, "Sports", "NHL", "National Hockey League"),
    (3, "Sports", "NFL", "National Football League"), (4, "Sports", "NBA", "National Basketball Association"),
    (5, "Sports", "MLS", "Major League Soccer"), (6, "Shows", "Musicals", "Musical theatre"),
    (7, "Shows", "Plays", "All non-musical theatre"), (8, "Shows", "Opera", "All opera and light opera"),
    (9, "Concerts", "Pop", "All rock and pop music concerts"), (10, "Concerts", "Jazz", "All jazz singers and bands"),
    (11, "Concerts", "Classical", "All symphony, concerto, and choir concerts"),
)

FIRST_DATEID = 1827  # TICKIT's dateid of 2008-01-01
DAYS = 365
VENUES = 202

FIRST_NAMES = "Rafael,Vladimir,Lars,Barry,Reagan,Victor,Tamekah,Colton,Mufutau,Naida,Ria,Elvis,Chase,Rhona,Ainsley"
LAST_NAMES = "Taylor,Hunt,Scott,Perez,Hooper,Watts,Juarez,Roy,Watson,Davis,Kline,Fleming,Benton,Wong,O'Neill"
CITIES = "Kent|Augusta|Valdez|Lowell|Provo|Omaha|Tulsa|Hilo|Nome|Salem|Ogden|Macon|Boise|Reno|Erie"
STATES = "WA,ME,AK,MA,UT,NE,OK,HI,AK,OR,UT,GA,ID,NV,PA"
EVENT_WORDS = "Macbeth|Mamma Mia!|The Phantom of the Opera|Wicked|Jersey Boys|Rent|Hairspray|Grease|Carmen|" \
              "La Boheme|Shrek the Musical|Tosca|Rigoletto|Eagles|Coldplay|Linkin Park|Norah Jones|Fall Out Boy"


@dataclass(frozen=True)
class TickitCounts:
    users: int
    events: int
    listings: int
    sales: int

    @classmethod
    def for_scale(cls, scale: int) -> TickitCounts:
        # A tenth of AWS's TICKIT per unit of scale: scale 1 loads in seconds, scale ~1500 gives a 2 GB+ sales table.
        return cls(users=5_000 * scale, events=880 * scale, listings=19_250 * scale, sales=17_250 * scale)


def _hash(column: str, salt: int, seed: int) -> str:
    """A deterministic pseudo-random non-negative bigint from a row number (pure SQL, the same on every run)."""
    return f"(({column}::bigint * 2654435761 + {salt * 40503 + seed * 97}) % 2147483647)"


def _pick(words: str, separator: str, h: str) -> str:
    count = len(words.split(separator))
    return f"split_part('{words.replace(chr(39), chr(39) * 2)}', '{separator}', 1 + ({h} % {count})::int)"


def data_statements(counts: TickitCounts, seed: int, batch: int = 1_000_000) -> list[tuple[str, str]]:
    """(table, INSERT ... SELECT) pairs in load order; big tables are cut into batches of `batch` rows.

    Times are `timestamp + n * interval` (AWS's epoch idiom) rather than DATEADD, which costs per row."""
    statements: list[tuple[str, str]] = []
    category_rows = ", ".join(
        f"({catid}, '{group}', '{name}', '{description}')" for catid, group, name, description in CATEGORIES)
    statements.append(("category", f"insert into tickit.category values {category_rows}"))  # nosec B608  # sample data from this module's constants; no outside input
    statements.append(("date", f"""insert into tickit.date
  select {FIRST_DATEID} + g, dateadd(day, g, '2008-01-01'::date)::date,
         upper(substring(to_char(dateadd(day, g, '2008-01-01'::date), 'DY'), 1, 2)),
         (g / 7) + 1, to_char(dateadd(day, g, '2008-01-01'::date), 'MON'),
         ((g / 92) + 1)::varchar, 2008, ({_hash('g', 1, seed)} % 17) = 0
  from generate_series(0, {DAYS - 1}) g"""))  # nosec B608  # sample data from this module's constants; no outside input
    statements.append(("venue", f"""insert into tickit.venue
  select g, {_pick(EVENT_WORDS, '|', _hash('g', 2, seed))} || ' ' ||
            split_part('Arena|Stadium|Theatre|Hall|Center|Field|Park', '|', 1 + (g % 7)),
         {_pick(CITIES, '|', _hash('g', 3, seed))}, {_pick(STATES, ',', _hash('g', 3, seed))},
         case when g % 9 = 0 then null when g % 5 = 0 then 0 else 1000 + {_hash('g', 4, seed)} % 70000 end
  from generate_series(1, {VENUES}) g"""))  # nosec B608  # sample data from this module's constants and integer seeds; no outside input

    def batched(table: str, total: int, select: Callable[[int, int], str]) -> None:
        for start in range(1, total + 1, batch):
            statements.append((table, f"insert into tickit.{table} {select(start, min(total, start + batch - 1))}"))

    likes = ", ".join(
        f"case when {_hash('g', 10 + k, seed)} % 11 = 0 then null else ({_hash('g', 10 + k, seed)} / {7 ** k}) % 3 = 0 end"
        for k in range(10))
    batched("users", counts.users, lambda lo, hi: f"""
  select g, 'u' || lpad(g::varchar, 7, '0'), {_pick(FIRST_NAMES, ',', _hash('g', 5, seed))},
         {_pick(LAST_NAMES, ',', _hash('g', 6, seed))}, {_pick(CITIES, '|', _hash('g', 7, seed))},
         {_pick(STATES, ',', _hash('g', 7, seed))},
         case when g % 13 = 0 then null else 'user' || g || '@example.com' end,
         '(' || lpad((100 + g % 900)::varchar, 3, '0') || ') 555-' || lpad((g % 10000)::varchar, 4, '0'),
         {likes}
  from generate_series({lo}, {hi}) g""")  # nosec B608  # sample data from this module's constants and integer seeds; no outside input
    batched("event", counts.events, lambda lo, hi: f"""
  select g, 1 + ({_hash('g', 20, seed)} % {VENUES}), 1 + ({_hash('g', 21, seed)} % {len(CATEGORIES)}),
         {FIRST_DATEID} + ({_hash('g', 22, seed)} % {DAYS}), {_pick(EVENT_WORDS, '|', _hash('g', 23, seed))},
         '2008-01-01'::timestamp
           + ((({_hash('g', 22, seed)} % {DAYS}) * 1440 + 600 + ({_hash('g', 24, seed)} % 720)) * interval '1 minute')
  from generate_series({lo}, {hi}) g""")  # nosec B608  # sample data from this module's constants and integer seeds; no outside input
    batched("listing", counts.listings, lambda lo, hi: f"""
  select g, 1 + ({_hash('g', 30, seed)} % {counts.users}), 1 + ({_hash('g', 31, seed)} % {counts.events}),
         {FIRST_DATEID} + ({_hash('g', 32, seed)} % {DAYS}), 1 + ({_hash('g', 33, seed)} % 20),
         (20 + {_hash('g', 34, seed)} % 2000)::decimal(8,2),
         ((1 + ({_hash('g', 33, seed)} % 20)) * (20 + {_hash('g', 34, seed)} % 2000))::decimal(8,2),
         '2008-01-01'::timestamp + ({_hash('g', 35, seed)} % 31536000) * interval '1 second'
  from generate_series({lo}, {hi}) g""")  # nosec B608  # sample data from this module's constants and integer seeds; no outside input
    batched("sales", counts.sales, lambda lo, hi: f"""
  select g, 1 + ({_hash('g', 40, seed)} % {counts.listings}), 1 + ({_hash('g', 41, seed)} % {counts.users}),
         1 + ({_hash('g', 42, seed)} % {counts.users}), 1 + ({_hash('g', 43, seed)} % {counts.events}),
         {FIRST_DATEID} + ({_hash('g', 44, seed)} % {DAYS}), 1 + ({_hash('g', 45, seed)} % 8),
         (({_hash('g', 46, seed)} % 100000) / 100.0)::decimal(8,2),
         (({_hash('g', 46, seed)} % 100000) * 0.0015)::decimal(8,2),
         '2008-01-01'::timestamp + ({_hash('g', 47, seed)} % 31536000) * interval '1 second'
  from generate_series({lo}, {hi}) g""")  # nosec B608  # sample data from this module's constants and integer seeds; no outside input
    return statements


def expected_rows(counts: TickitCounts) -> dict[str, int]:
    return {"users": counts.users, "venue": VENUES, "category": len(CATEGORIES), "date": DAYS,
            "event": counts.events, "listing": counts.listings, "sales": counts.sales}
