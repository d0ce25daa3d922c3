"""Static demo data for the seeded shop: products, people, places, hostile text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# No wall clock in seeded data: every seeded time is derived from this instant.
SEED_EPOCH = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

# Customer-typed text that becomes a formula, or breaks a row, when written to CSV/XLSX
# unescaped. The seed puts every one of them, verbatim, into some order.
HOSTILE_STRINGS: tuple[str, ...] = (
    '=HYPERLINK("http://evil.example","click")',
    "+1",
    "-1",
    "@SUM(A1)",
    "=1+1",
    "\t=cmd",
    "\r=1+2",
)


@dataclass(frozen=True)
class Variant:
    id: int
    sku: str | None
    mpn: str | None
    color: str | None
    volume: str | None
    quantity: int


@dataclass(frozen=True)
class Product:
    id: int
    title: str
    sku: str | None
    mpn: str | None
    gtin: str | None
    price: str  # list price in EUR, before the per-unit discount
    dis: str  # per-unit discount in EUR
    weight: float | None
    quantity: int
    unit: str | None = None
    unit_float: bool = False
    variants: tuple[Variant, ...] = ()


# fmt: off
PRODUCTS: tuple[Product, ...] = (
    Product(2346, "Ceramic Mug Gloria", "MUG-GLO-001", "GLO-MX70", "4006381333931",
            "14.00", "1.50", 0.35, 187),
    # No product SKU: the variants carry it, and one variant has none at all.
    Product(2410, "Organic Tee", None, None, None, "25.50", "0", 0.2, 0, variants=(
        Variant(143271, "TEE-ORG-BLK-M", "3913148609", "#101010", "M", 41),
        Variant(143272, "TEE-ORG-BLK-L", "3913148616", "#101010", "L", 17),
        Variant(143273, None, None, "#FFFFFF", "S", 9),
    )),
    # A product SKU, and a variant without one.
    Product(2417, "Merino Hoodie Classic", "HOOD-CLS", "MH-2201", None, "79.00", "0",
            0.6, 0, variants=(
        Variant(143301, "HOOD-CLS-NVY-M", None, "#1B2A4A", "M", 12),
        Variant(143302, None, None, "#1B2A4A", "XL", 3),
    )),
    # Sold by the metre: fractional counts.
    Product(2455, "Linen Fabric by the Metre", "LIN-NAT-140", None, None, "12.00", "0",
            0.3, 250, unit="m", unit_float=True),
    Product(2468, "Dotted Notebook A5", "NB-A5-DOT", None, "9783161484100", "8.90", "0",
            0.25, 530),
    Product(2471, "Soy Candle Zimt & Orange", "CND-ZO-01", "ZO-180", None, "18.00",
            "2.00", 0.4, 64),
    Product(2502, "Poster Tokyo 東京 A2", "0042-PST-TKY", None, None, "22.00", "0",
            0.2, 80),
    Product(2533, "Espresso Beans 1 kg", "COF-ESP-1000", "ESP1K", "4012345678901",
            "24.90", "0", 1.0, 140),
    Product(2561, "Bamboo Socks 3-Pack", None, "BS3P", None, "15.00", "0", 0.15, 0,
            variants=(
        Variant(143410, "SOCK-BMB-3P-39", "BS3P-39", None, "39-42", 55),
        Variant(143411, "SOCK-BMB-3P-43", None, None, "43-46", 38),
    )),
    # An all-digit SKU with a leading zero.
    Product(2590, "Enamel Pin Set", "00731", None, None, "6.50", "0", 0.05, 300),
)
# fmt: on

FRACTIONAL_PRODUCT_ID = 2455


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str
    user_id: int
    customer_id: int


# fmt: off
PEOPLE: tuple[Person, ...] = (
    Person("Anna Schmidt", "anna@example.com", "+49 30 5550123", 88231, 40177),
    Person("Jonas Weber", "jonas.weber@example.de", "+49 89 5550188", 88302, 40190),
    Person("Emily Carter", "emily.carter@example.com", "+1 212 555 0147", 88345, 40203),
    Person("Sophie Dubois", "sophie@example.fr", "+33 1 55 50 12 34", 88390, 40211),
    Person("Daan de Vries", "daan@example.nl", "+31 20 555 0199", 88412, 40226),
    Person("Lea Hofer", "lea.hofer@example.at", "+43 1 5550234", 88477, 40240),
    Person("Carlos García", "carlos@example.es", "+34 91 555 0173", 88501, 40255),
    Person("Oliver Smith", "oliver@example.co.uk", "+44 20 7946 0321", 88533, 40261),
)

# Names that must appear: diacritics, non-Latin scripts, right-to-left text.
UNICODE_PEOPLE: tuple[Person, ...] = (
    Person("Zoë Ünal", "zoe.unal@example.de", "+49 40 5550177", 88610, 40301),
    Person("李雷", "lilei@example.cn", "+86 10 5555 0101", 88622, 40302),
    Person("Łukasz Wiśniewski", "lukasz.w@example.pl", "+48 12 555 0142", 88640, 40305),
    Person("Øystein Hansen", "oystein@example.no", "+47 22 55 50 11", 88655, 40310),
    Person("مریم رضایی", "maryam@example.com", "+49 69 5550166", 88671, 40316),
)
# fmt: on

# A registered buyer whose own name is a formula (HOSTILE_STRINGS[4]).
FORMULA_PERSON = Person(
    HOSTILE_STRINGS[4], "calc@example.com", "+49 211 5550190", 88700, 40320
)


@dataclass(frozen=True)
class Place:
    country: str
    state: str | None
    state_code: str | None
    city: str
    street: str
    no: str | None
    unit: str | None
    postal: str | None
    lat: float
    lng: float


# fmt: off
PLACES: tuple[Place, ...] = (
    Place("DE", "Berlin", "BE", "Berlin", "Friedrichstraße", "123", "3. OG links",
          "10117", 52.5163, 13.3889),
    Place("DE", "Bayern", "BY", "München", "Leopoldstraße", "42", None, "80802",
          48.1599, 11.5857),
    Place("AT", "Wien", "9", "Wien", "Kärntner Straße", "8", "Top 5", "1010",
          48.2064, 16.3707),
    Place("FR", "Île-de-France", "IDF", "Paris", "Rue Montorgueil", "51", None, "75002",
          48.8650, 2.3470),
    Place("NL", "Noord-Holland", "NH", "Amsterdam", "Prinsengracht", "263", "2hg",
          "1016 GV", 52.3752, 4.8840),
    Place("ES", "Madrid", "M", "Madrid", "Calle Mayor", "10", "2º B", "28013",
          40.4168, -3.7038),
    Place("GB", None, None, "London", "Baker Street", "221B", None, "NW1 6XE",
          51.5238, -0.1586),
    Place("US", "Massachusetts", "MA", "Boston", "Boylston Street", "700", "Apt 4",
          "02116", 42.3496, -71.0799),
)

# Postcodes with leading zeros, which spreadsheet software likes to "fix".
LEADING_ZERO_PLACES: tuple[Place, ...] = (
    Place("DE", "Sachsen", "SN", "Dresden", "Prager Straße", "12", None, "01067",
          51.0467, 13.7364),
    Place("US", "New York", "NY", "Holtsville", "Waverly Avenue", "1", None, "00501",
          40.8154, -73.0451),
    Place("NO", "Oslo", "03", "Oslo", "Karl Johans gate", "22", "H0301", "0154",
          59.9127, 10.7461),
)
# fmt: on

MESSAGES: tuple[str | None, ...] = (
    None,
    None,
    None,
    "Please ring twice",
    "Bitte beim Nachbarn abgeben\nHaus B, 2. Stock",
    "Leave at the back door; the dog is friendly.",
)

TRANSPORTS = ("PostFast", "Post", "PostFast", "Cargo")
PAYMENT_TYPES = ("stripe", "paypal", "stripe", "mollie")
REJECT_REASON = "LackOfInventory"
USD_PER_EUR = "1.08"
