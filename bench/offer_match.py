"""Match one customer against one product and against the whole catalogue, with 1M customers, 10k offers and
50k products stored: MatchService vs a raw sqlite3 read of the same rows, in the same run.

The database is filled with executemany in a temporary folder: 1,000,000 customer profiles (tiers, price
groups, segments, offer uses), 50,000 products in 200 categories, 5 price groups with 10,000 prices each,
10,000 offers of every kind (60 % valid now, 20 % over, 20 % to come; for everyone, tiers, price groups,
segments or named customers; 85 % on 1-5 products, 15 % on 1-3 categories and three on the whole
assortment).

Ours: ``MatchService.shopper(customer)`` then ``match_product(shopper, gtin)`` (one product) or
``match_catalogue(shopper)`` (every product the customer pays less for), on the agent's Store; the offers
index is loaded once before the clock runs (its load time is shown).

Raw: a plain sqlite3 connection reading the rows an SQL-only matcher needs, without any matching logic:
the customer's profile (parsed, to know their groups) and activations, the product, its group prices, and
the covering offers through a (benchmark-only) table of offers by GTIN/category; for the catalogue, the
offers targeting the customer through a table of offers by audience, the products of the categories and
GTINs the applicable offers cover (computed before the clock runs) and the customer's group prices with
their products.

Rounds alternate ours and raw on the same random customer/product pairs; p50/p95 per round, medians over
rounds. Target: one product p95 <= 5 ms.

    .venv/bin/python bench/offer_match.py [--quick] [--rounds N] [--customers N] [--offers N] [--products N]
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common as common
from _common import Row

from edge_agent.contract import OfferRecord, gtin_check_digit
from edge_agent.matching import MatchService
from edge_agent.offers import offers_for
from edge_agent.store import Store

TARGET_P95_MS = 5.0
TIERS = ("brons",) * 6 + ("zilver",) * 3 + ("goud",)
GROUPS = {"club": 0.20, "app": 0.15, "vip": 0.03, "staff": 0.01, "ambassadeur": 0.01}
SEGMENTS = ("tuin", "gazon", "vijver", "moestuin", "bbq", "dier", "kamerplant", "gereedschap", "kerst", "bollen")
CATEGORIES = 200
NOW = datetime.now(UTC)


def gtin_of(n: int) -> str:
    body = f"8712{n:08d}"
    return "0" + body + str(gtin_check_digit(body))


def customer_of(n: int) -> str:
    return f"c-{n:032x}"


def offer_record(n: int, rng: random.Random, products: int, customers: int) -> dict:
    roll = rng.random()
    if n < 3:  # the whole assortment, for a tier or a segment
        scope: dict = {}
        targeting = {"tiers": ["goud"]} if n == 0 else {"segments": [SEGMENTS[n]]}
    else:
        scope = ({"products": sorted({gtin_of(rng.randrange(products)) for _ in range(rng.randint(1, 5))})}
                 if roll < 0.85 else
                 {"categories": sorted({f"cat-{rng.randrange(CATEGORIES):03d}" for _ in range(rng.randint(1, 3))})})
        audience = rng.random()
        targeting = ({"everyone": True} if audience < 0.30 else
                     {"tiers": sorted(set(rng.sample(["brons", "zilver", "goud"], rng.randint(1, 2))))}
                     if audience < 0.55 else
                     {"price_groups": [rng.choice(list(GROUPS))]} if audience < 0.70 else
                     {"segments": sorted(set(rng.sample(SEGMENTS, rng.randint(1, 2))))} if audience < 0.90 else
                     {"customers": sorted({customer_of(rng.randrange(customers))
                                           for _ in range(rng.randint(20, 100))})})
    kind_roll = rng.random()
    if kind_roll < 0.40:
        benefit = {"kind": "percentage-off", "percent": rng.choice([5, 10, 15, 20, 25, 30])}
    elif kind_roll < 0.60:
        benefit = {"kind": "amount-off", "amount_cents": rng.randrange(50, 500)}
    elif kind_roll < 0.80 and scope:
        benefit = {"kind": "personal-price", "price_cents": rng.randrange(200, 5000)}
    elif kind_roll < 0.90:
        benefit = {"kind": "gift-with-purchase", "gift": gtin_of(rng.randrange(products)),
                   "min_spend_cents": rng.choice([2500, 5000, 10000])}
    else:
        benefit = {"kind": "promo-code", "code": f"CODE{n}", "percent": 10}
    when = rng.random()
    if when < 0.6:  # valid now
        start, end = NOW - timedelta(days=rng.randint(1, 30)), NOW + timedelta(days=rng.randint(1, 60))
    elif when < 0.8:  # over
        start, end = NOW - timedelta(days=rng.randint(31, 90)), NOW - timedelta(hours=rng.randint(1, 200))
    else:  # to come
        start = NOW + timedelta(days=rng.randint(1, 30))
        end = start + timedelta(days=30)
    return {"offer": f"offer-{n}", "version": 1, "title": {"nl": f"Actie {n}", "en": f"Offer {n}"},
            "targeting": targeting, "valid_from": start.isoformat(), "valid_until": end.isoformat(),
            "priority": rng.randint(0, 5), "uses_per_customer": rng.choice([None] * 4 + [1, 2, 3]),
            "requires_activation": rng.random() < 0.1, **scope, **benefit}


def fill(path: Path, customers: int, offers: int, products: int) -> dict:
    """The benchmark database; returns what was stored, for picking pairs."""
    rng = random.Random(4)
    Store(path).close()  # the agent's own schema (migrations)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = time.time()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO products (gtin, version, active, price_cents, category, data, updated) "
        "VALUES (?, 1, 1, ?, ?, ?, ?)",
        ((gtin_of(n), price, f"cat-{n % CATEGORIES:03d}",
          json.dumps({"gtin": gtin_of(n), "version": 1, "active": True, "name": {"nl": f"Product {n}"},
                      "price_cents": price, "category": f"cat-{n % CATEGORIES:03d}", "stock": n % 50}), now)
         for n in range(products) for price in [100 + (n * 7919) % 20000]))
    conn.executemany("INSERT INTO price_groups (price_group, version, name, updated) VALUES (?, 1, ?, ?)",
                     [(group, json.dumps({"nl": f"{group.capitalize()}prijs"}), now) for group in GROUPS])
    for group in GROUPS:
        chosen = rng.sample(range(products), min(products, max(1, products // 5)))
        conn.executemany("INSERT INTO group_prices (price_group, gtin, version, active, price_cents, updated) "
                         "VALUES (?, ?, 1, 1, ?, ?)",
                         [(group, gtin_of(n), int((100 + (n * 7919) % 20000) * rng.uniform(0.8, 0.97)), now)
                          for n in chosen])
    records = [OfferRecord.model_validate(offer_record(n, rng, products, customers)) for n in range(offers)]
    conn.executemany("INSERT INTO offers (offer, version, active, seq, data, updated) VALUES (?, 1, 1, 1, ?, ?)",
                     [(r.offer, r.model_dump_json(exclude={"targeting": {"customers"}}), now) for r in records])
    conn.executemany("INSERT INTO offer_customers (offer, customer) VALUES (?, ?)",
                     [(r.offer, c) for r in records for c in r.targeting.customers])
    conn.execute("UPDATE sync_state SET seq = 1 WHERE name = 'offers'")
    # For the raw side only: offers by what they cover and by whom they target.
    conn.execute("CREATE TABLE bench_offer_scope (key TEXT NOT NULL, offer TEXT NOT NULL)")
    conn.execute("CREATE TABLE bench_offer_audience (key TEXT NOT NULL, offer TEXT NOT NULL)")
    conn.executemany("INSERT INTO bench_offer_scope VALUES (?, ?)",
                     [(key, r.offer) for r in records for key in
                      ([f"g:{g}" for g in r.products] + [f"c:{c}" for c in r.categories]
                       or ["*"])])
    conn.executemany("INSERT INTO bench_offer_audience VALUES (?, ?)",
                     [(key, r.offer) for r in records for key in
                      (["*"] if r.targeting.everyone else
                       [f"t:{t}" for t in r.targeting.tiers] + [f"g:{g}" for g in r.targeting.price_groups]
                       + [f"s:{s}" for s in r.targeting.segments] + [f"c:{c}" for c in r.targeting.customers])])
    conn.execute("CREATE INDEX bench_offer_scope_key ON bench_offer_scope (key)")
    conn.execute("CREATE INDEX bench_offer_audience_key ON bench_offer_audience (key)")
    offer_ids = [r.offer for r in records]

    def profile(n: int) -> str:
        groups = [group for group, share in GROUPS.items() if rng.random() < share]
        states = ([{"offer": rng.choice(offer_ids), "uses": 1, "activated": True}] if rng.random() < 0.05 else [])
        return json.dumps({"customer": customer_of(n), "version": 1, "first_name": f"Klant {n}", "language": "nl",
                           "tier": rng.choice(TIERS), "points": rng.randrange(9000), "price_groups": groups,
                           "segments": rng.sample(SEGMENTS, rng.randint(0, 3)), "favourite_store": "bench",
                           "offers": states})

    conn.executemany("INSERT INTO customers (customer, version, profile, updated) VALUES (?, 1, ?, ?)",
                     ((customer_of(n), profile(n), now) for n in range(customers)))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return {"customers": customers, "products": products}


class Raw:
    """The raw sqlite3 reads of the same rows."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)

    def customer(self, customer: str) -> dict:
        profile = json.loads(self.conn.execute("SELECT profile FROM customers WHERE customer = ?",
                                               (customer,)).fetchone()[0])
        self.conn.execute("SELECT offer FROM offer_activations WHERE customer = ?", (customer,)).fetchall()
        return profile

    def one(self, customer: str, gtin: str) -> int:
        profile = self.customer(customer)
        _, category = self.conn.execute("SELECT price_cents, category FROM products WHERE gtin = ? AND active = 1",
                                        (gtin,)).fetchone()
        groups = profile["price_groups"]
        rows = self.conn.execute(
            f"SELECT gp.price_group, gp.price_cents, pg.name FROM group_prices gp LEFT JOIN price_groups pg "
            f"ON pg.price_group = gp.price_group WHERE gp.gtin = ? AND gp.active = 1 AND gp.price_group IN "
            f"({', '.join('?' * len(groups))})", [gtin, *groups]).fetchall() if groups else []
        offers = self.conn.execute(
            "SELECT o.data FROM bench_offer_scope s JOIN offers o ON o.offer = s.offer "
            "WHERE s.key IN (?, ?, '*') AND o.active = 1", (f"g:{gtin}", f"c:{category}")).fetchall()
        return len(rows) + len(offers)

    def catalogue(self, customer: str, scope: tuple[bool, list[str], list[str]]) -> int:
        profile = self.customer(customer)
        keys = (["*", f"t:{profile['tier']}", f"c:{customer}"] + [f"g:{g}" for g in profile["price_groups"]]
                + [f"s:{s}" for s in profile["segments"]])
        offers = self.conn.execute(
            f"SELECT o.data FROM bench_offer_audience a JOIN offers o ON o.offer = a.offer "
            f"WHERE a.key IN ({', '.join('?' * len(keys))}) AND o.active = 1", keys).fetchall()
        wide, categories, gtins = scope
        if wide:
            items = self.conn.execute("SELECT gtin, price_cents, category FROM products WHERE active = 1").fetchall()
        else:
            items = []
            if categories:
                items += self.conn.execute(
                    f"SELECT gtin, price_cents, category FROM products WHERE category IN "
                    f"({', '.join('?' * len(categories))}) AND active = 1", categories).fetchall()
            for start in range(0, len(gtins), 500):
                chunk = gtins[start:start + 500]
                items += self.conn.execute(
                    f"SELECT gtin, price_cents, category FROM products WHERE gtin IN "
                    f"({', '.join('?' * len(chunk))}) AND active = 1", chunk).fetchall()
        groups = profile["price_groups"]
        prices = self.conn.execute(
            f"SELECT gp.price_group, gp.gtin, gp.price_cents, p.price_cents, p.category FROM group_prices gp "
            f"JOIN products p ON p.gtin = gp.gtin WHERE gp.price_group IN ({', '.join('?' * len(groups))}) "
            f"AND gp.active = 1 AND p.active = 1", groups).fetchall() if groups else []
        return len(offers) + len(items) + len(prices)


def timed(calls) -> list[float]:
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--customers", type=int, default=None, help="customers stored (default 1M, quick 20k)")
    parser.add_argument("--offers", type=int, default=None, help="offers stored (default 10k, quick 500)")
    parser.add_argument("--products", type=int, default=None, help="products stored (default 50k, quick 2k)")
    parser.add_argument("--matches", type=int, default=None,
                        help="one-product matches per round and side (default 2000, quick 200)")
    args = parser.parse_args()
    rounds = common.rounds_of(args)
    customers = args.customers or (20_000 if args.quick else 1_000_000)
    offers = args.offers or (500 if args.quick else 10_000)
    products = args.products or (2_000 if args.quick else 50_000)
    singles = args.matches or (200 if args.quick else 2_000)
    catalogues = max(5, singles // 50)
    workdir = Path(tempfile.mkdtemp(prefix="bench-match-"))
    try:
        started = time.perf_counter()
        fill(workdir / "agent.db", customers, offers, products)
        fill_s = time.perf_counter() - started
        store = Store(workdir / "agent.db")
        matcher = MatchService(store, "Europe/Amsterdam")
        started = time.perf_counter()
        matcher.refresh()
        load_ms = (time.perf_counter() - started) * 1000
        raw = Raw(workdir / "agent.db")
        rng = random.Random(11)

        def scope_of(customer: str) -> tuple[bool, list[str], list[str]]:
            shopper = matcher.shopper(customer)
            applying = [o for o, why in offers_for(shopper, matcher._index.for_shopper(shopper), matcher.now())
                        if why is None and o.changes_price]
            return (any(o.assortment_wide for o in applying), sorted({c for o in applying for c in o.categories}),
                    sorted({g for o in applying for g in o.gtins}))

        results: dict[str, list[list[float]]] = {"one": [], "one-raw": [], "all": [], "all-raw": []}
        deals: list[int] = []
        # Warm up both sides (statement caches, page cache).
        for customer in (customer_of(rng.randrange(customers)) for _ in range(50)):
            matcher.match_product(matcher.shopper(customer), gtin_of(rng.randrange(products)))
            raw.one(customer, gtin_of(rng.randrange(products)))
        for round_index in range(rounds):
            pairs = [(customer_of(rng.randrange(customers)), gtin_of(rng.randrange(products)))
                     for _ in range(singles)]
            shoppers = [customer_of(rng.randrange(customers)) for _ in range(catalogues)]
            scopes = [scope_of(customer) for customer in shoppers]
            common.alternate(
                round_index,
                lambda pairs=pairs: results["one"].append(timed(
                    lambda c=c, g=g: matcher.match_product(matcher.shopper(c), g) for c, g in pairs)),
                lambda pairs=pairs: results["one-raw"].append(timed(lambda c=c, g=g: raw.one(c, g) for c, g in pairs)))
            common.alternate(
                round_index,
                lambda shoppers=shoppers: results["all"].append(timed(
                    lambda c=c: deals.append(len(matcher.match_catalogue(matcher.shopper(c)).deals))
                    for c in shoppers)),
                lambda shoppers=shoppers, scopes=scopes: results["all-raw"].append(timed(
                    lambda c=c, s=s: raw.catalogue(c, s) for c, s in zip(shoppers, scopes, strict=True))))
            if args.verbose:
                print(f"round {round_index}: one p95 {common.percentile(results['one'][-1], 95):.3f} ms, "
                      f"raw {common.percentile(results['one-raw'][-1], 95):.3f} ms; catalogue p95 "
                      f"{common.percentile(results['all'][-1], 95):.1f} ms, "
                      f"raw {common.percentile(results['all-raw'][-1], 95):.1f} ms")
        store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def per_round(kind: str, q: float) -> list[float]:
        return [common.percentile(values, q) for values in results[kind]]

    def ratio(ours: str, base: str, q: float) -> float:
        return common.median([a / b for a, b in zip(per_round(ours, q), per_round(base, q), strict=True)])

    rows = []
    for q in (50, 95):
        ours = common.median(per_round("one", q))
        rows.append(Row(f"one product p{q}", ours, common.median(per_round("one-raw", q)), "ms",
                        ratio("one", "one-raw", q), f"<= {TARGET_P95_MS:.0f} ms" if q == 95 else "info",
                        ours <= TARGET_P95_MS if q == 95 else None, per_round("one", q), per_round("one-raw", q)))
    rows.extend(Row(f"whole catalogue p{q}", common.median(per_round("all", q)),
                    common.median(per_round("all-raw", q)), "ms", ratio("all", "all-raw", q), "info", None,
                    per_round("all", q), per_round("all-raw", q))
                for q in (50, 95))
    rows.append(Row("offers index load (10k offers)" if offers == 10_000 else f"offers index load ({offers:,})",
                    load_ms, None, "ms", None, "info", None))
    notes = [(f"{rounds} rounds x {singles} one-product and {catalogues} catalogue matches per side; "
              f"{customers:,} customers, {offers:,} offers, {products:,} products (filled in {fill_s:.0f} s)"),
             f"deals per catalogue match: median {common.median(deals):.0f}, max {max(deals) if deals else 0}"]
    return common.finish("match: MatchService vs raw sqlite3 reads of the same rows", args, rows, notes)


if __name__ == "__main__":
    raise SystemExit(main())
