"""Reproducible synthetic county data for tests (small) and benchmarks (up to 10^6 rows).

Everything here is a pure function of an integer seed: the same seed gives the same county, the
same people, the same roster rows and the same policy list, on any machine and in any process
(``random.Random`` seeded with integers only — never the global ``random`` module and never
``hash()``, whose value for ``str`` is salted per process).

* ``make_county`` — a county with townships (9-digit codes) and villages (12-digit codes);
  ``county_division_rows`` / ``write_divisions_csv`` give the ``code,name`` file the division loader reads.
* ``iter_people`` — a stream of ``Person`` records: Chinese names, 18-digit citizen ID numbers valid
  under GB 11643 (unique by construction), mobile phones, bank card numbers valid under Luhn
  (except a small share of 16-digit passbook numbers that fail Luhn on purpose).
  Person ``i`` depends only on ``(seed, county, i)``, so ``start`` slices of one population match one run.
* ``iter_roster_rows`` — roster rows as a department clerk types them, with an optional reproducible
  share of rows carrying exactly one labelled defect (``row["_defect"]``) and the harmless quirks
  real files have (full-width digits, stray spaces, "100元").
* ``write_roster_xlsx`` / ``write_roster_csv`` — stream rows to a file (xlsxwriter constant-memory mode).
* ``iter_policies`` — a realistic county subsidy policy list (40+ policies, 10+ departments).

Command line: ``python -m bench.synth --help``.

No Django imports: this module is usable from benchmarks, fixtures and scripts alike.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path

from stdnum import luhn
from stdnum.cn import ric

from policies.catalogue import CATALOGUE as _POLICY_CATALOGUE
from policies.catalogue import DEPARTMENT_PREFIX as _DEPARTMENT_PREFIX

__all__ = [
    "BANKS",
    "COLUMNS",
    "DEFECTS",
    "PERSON_FIELDS",
    "Bank",
    "County",
    "Person",
    "Township",
    "Village",
    "capacity",
    "county_division_rows",
    "iter_people",
    "iter_policies",
    "iter_roster_rows",
    "main",
    "make_county",
    "person_at",
    "write_divisions_csv",
    "write_people_csv",
    "write_roster_csv",
    "write_roster_xlsx",
]

# ---------------------------------------------------------------------------------------------
# Seeding: one independent, reproducible random stream per (seed, purpose, index).
# ---------------------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1
_MAX_INDEX = 1 << 48

_S_COUNTY = 1
_S_PERSON = 2
_S_ID_PERMUTATION = 3
_S_ACCOUNT_PERMUTATION = 4
_S_POLICIES = 5


def _stream_seed(seed: int, stream: int, index: int = 0) -> int:
    """One integer seed for ``random.Random`` from (seed, stream, index), with no collisions between
    different streams or indexes of the same seed. Pure arithmetic: no ``hash()``."""
    if not 0 <= index < _MAX_INDEX:
        raise ValueError(f"index out of range: {index}")
    return ((seed & _MASK64) << 64) | (stream << 48) | index


class _Permutation:
    """A keyed pseudo-random bijection of ``range(domain)`` (balanced Feistel network + cycle walking).

    Used to hand out unique keys (ID birth date + sequence, account numbers) by person index, so
    uniqueness is structural: distinct indexes can never produce the same key, however many there are.
    """

    __slots__ = ("_domain", "_half", "_keys", "_mask", "_shift")

    _MULTIPLIER = 0x9E3779B97F4A7C15

    def __init__(self, domain: int, seed: int, stream: int) -> None:
        if domain < 2:
            raise ValueError("domain must be at least 2")
        bits = max(2, (domain - 1).bit_length())
        half = (bits + 1) // 2
        self._domain = domain
        self._half = half
        self._mask = (1 << half) - 1
        self._shift = 64 - half
        rng = random.Random(_stream_seed(seed, stream))
        self._keys = tuple(rng.getrandbits(64) for _ in range(6))

    def __call__(self, x: int) -> int:
        if not 0 <= x < self._domain:
            raise ValueError(f"{x} is outside the permutation's domain 0..{self._domain - 1}")
        half, mask, shift, mult = self._half, self._mask, self._shift, self._MULTIPLIER
        while True:
            left, right = x >> half, x & mask
            for key in self._keys:
                left, right = right, left ^ ((((right ^ key) * mult) & _MASK64) >> shift)
            x = (left << half) | right
            if x < self._domain:
                return x


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# ---------------------------------------------------------------------------------------------
# Administrative divisions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Village:
    code: str  # 12 digits: township code + 3
    name: str  # ends in 村 or 社区


@dataclass(frozen=True)
class Township:
    code: str  # 9 digits: county code + 3
    name: str  # ends in 街道, 镇 or 乡
    villages: tuple[Village, ...]


@dataclass(frozen=True)
class County:
    code: str  # 6 digits (GB/T 2260)
    name: str
    townships: tuple[Township, ...]

    def villages(self) -> Iterator[Village]:
        for township in self.townships:
            yield from township.villages


# Urban street-office names ("淮河路街道") and place-name syllables for towns and villages ("柳林", "王家庄").
_ROAD_STEMS = _words(
    "淮河路 解放路 铭功路 一马路 蜜蜂张 五里堡 大学路 建中街 福华街 德化街 嵩山路 京广路 长江路 人和路 "
    "黄河路 汝河路 陇海路 航海路 中原路 桐柏路 兴华街 文化路 人民路 建设路 和平路 胜利路 光明路 东风路 "
    "红旗路 工农路 友爱路 幸福路 南阳路 花园路 经三路 纬五路 政七街 城东路 商城路 西大街 北顺城街 南关街 "
    "金海路 祥云路 凤凰路 锦绣路 迎宾路 滨河路 书院街 棉纺路 秦岭路 伏牛路 华山路 桃源路 丰产路 农业路"
)
_PLACE_FIRST = "东西南北上下大小新老高李王张刘陈马柳杨桃杏槐枣梨石金银龙凤白黑青红黄双三五七九"
_PLACE_SECOND = "庄寨营店集桥河湾沟岗坡楼屯堡口园坪庙铺岭"
_PLACE_SURNAMES = "王李张刘陈杨赵吴周孙马朱胡郭何高郑梁宋唐许韩冯邓曹彭田董袁于"
_COMMUNITY_STEMS = _words(
    "幸福 和谐 康乐 建新 红旗 光华 汇丰 滨河 锦绣 金桥 阳光 兴隆 春华 秋实 福寿 祥和 安居 乐业 长青 翠竹 "
    "碧水 蓝天 朝阳 东方 明珠 华苑 怡园 嘉园 雅居 馨苑 丽景 和平 团结 友谊 前进 胜利 繁荣 振兴 永安 永昌"
)


def _place_names() -> list[str]:
    names = [a + b for a in _PLACE_FIRST for b in _PLACE_SECOND]
    names += [s + "家" + b for s in _PLACE_SURNAMES for b in _PLACE_SECOND]
    return names


_PLACES = _place_names()


def make_county(
    seed: int,
    *,
    code: str = "410103",
    name: str = "二七区",
    townships: int = 12,
    villages_per_township: int = 10,
) -> County:
    """A county with ``townships`` townships (codes ``code + "001"`` …) of ``villages_per_township``
    villages each (codes ``township + "001"`` …). A 区 gets mostly 街道 and 社区, a 县 or 市 mostly 镇/乡 and 村."""
    if len(code) != 6 or not code.isdigit():
        raise ValueError(f"county code must be 6 digits: {code!r}")
    if not 1 <= townships <= 999 or not 1 <= villages_per_township <= 999:
        raise ValueError("townships and villages_per_township must be between 1 and 999")
    rng = random.Random(_stream_seed(seed, _S_COUNTY))
    urban = name.endswith("区")
    kind_weights = (75, 15, 10) if urban else (15, 55, 30)  # 街道, 镇, 乡
    roads = rng.sample(_ROAD_STEMS, len(_ROAD_STEMS))
    places = rng.sample(_PLACES, len(_PLACES))

    result = []
    for t in range(1, townships + 1):
        kind = rng.choices(("街道", "镇", "乡"), weights=kind_weights)[0]
        t_name = roads.pop() + "街道" if kind == "街道" and roads else places.pop() + kind
        t_code = f"{code}{t:03d}"
        community_share = {"街道": 0.85, "镇": 0.15, "乡": 0.03}[kind]
        v_places = rng.sample(_PLACES, villages_per_township)
        v_communities = rng.sample(_COMMUNITY_STEMS, len(_COMMUNITY_STEMS))
        villages = []
        for v in range(1, villages_per_township + 1):
            if rng.random() < community_share:
                stem = v_communities.pop() if v_communities else v_places.pop()
                v_name = stem + "社区"
            else:
                v_name = v_places.pop() + "村"
            villages.append(Village(f"{t_code}{v:03d}", v_name))
        result.append(Township(t_code, t_name, tuple(villages)))
    return County(code, name, tuple(result))


def county_division_rows(county: County) -> Iterator[tuple[str, str]]:
    """``(code, name)`` for the county, then each township followed by its villages (parents first)."""
    yield county.code, county.name
    for township in county.townships:
        yield township.code, township.name
        for village in township.villages:
            yield village.code, village.name


def write_divisions_csv(county: County, path: str | Path) -> int:
    """Write ``code,name`` (with that header line) in UTF-8; returns the number of divisions written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("code", "name"))
        for row in county_division_rows(county):
            writer.writerow(row)
            count += 1
    return count


# ---------------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    id_number: str  # 18 characters, GB 11643 check character (0-9 or X)
    sex: str  # "M" or "F", matching the parity of the ID's 17th digit
    birth_date: dt.date
    village_code: str  # where the person lives: always a village of the county
    phone: str  # 11-digit mobile number
    bank_code: str  # one of BANKS
    account: str  # 19-digit card number (Luhn-valid) or 16-digit passbook number (Luhn-invalid)
    holder_name: str  # account holder; differs from name for e.g. a spouse's account


PERSON_FIELDS = tuple(f.name for f in fields(Person))

SEX_LABELS = {"M": "男", "F": "女"}


@dataclass(frozen=True)
class Bank:
    code: str
    name: str  # "{county}" is replaced by the county name
    bin: str  # 6-digit card prefix (issuer identification number)
    passbook_prefix: str  # first 3 digits of the bank's 16-digit passbook accounts
    weight: int  # share of the population banking here


# Demo disbursing banks. Rural residents bank mostly with the rural credit bank and the postal savings bank.
BANKS = (
    Bank("rcb-erqi", "{county}农村商业银行", "623180", "711", 35),
    Bank("psbc-erqi", "中国邮政储蓄银行{county}支行", "622188", "604", 20),
    Bank("abc-erqi", "中国农业银行{county}支行", "622848", "162", 25),
    Bank("ccb-erqi", "中国建设银行{county}支行", "621700", "410", 20),
)
_BANK_CUM = []
_total = 0
for _bank in BANKS:
    _total += _bank.weight
    _BANK_CUM.append(_total)
_BANK_TOTAL = _total
del _bank, _total

# Approximate surname shares in per mille (national figures, rounded); a few compound surnames.
_SURNAME_WEIGHTS = (
    ("王", 71), ("李", 70), ("张", 68), ("刘", 54), ("陈", 46), ("杨", 31), ("黄", 25), ("赵", 23),
    ("吴", 20), ("周", 19), ("徐", 15), ("孙", 15), ("马", 14), ("朱", 13), ("胡", 13), ("郭", 12),
    ("何", 12), ("林", 11), ("罗", 10), ("高", 10), ("郑", 9), ("梁", 9), ("谢", 8), ("宋", 8),
    ("唐", 8), ("许", 7), ("韩", 7), ("冯", 7), ("邓", 7), ("曹", 7), ("彭", 6), ("曾", 6),
    ("肖", 6), ("田", 6), ("董", 5), ("袁", 5), ("潘", 5), ("于", 5), ("蒋", 5), ("蔡", 5),
    ("余", 5), ("杜", 5), ("叶", 4), ("程", 4), ("苏", 4), ("魏", 4), ("吕", 4), ("丁", 4),
    ("任", 4), ("沈", 4), ("姚", 4), ("卢", 4), ("姜", 4), ("崔", 3), ("钟", 3), ("谭", 3),
    ("陆", 3), ("汪", 3), ("范", 3), ("金", 3), ("石", 3), ("廖", 3), ("贾", 3), ("夏", 3),
    ("韦", 3), ("付", 3), ("方", 3), ("白", 3), ("邹", 3), ("孟", 3), ("熊", 3), ("秦", 3),
    ("邱", 3), ("江", 3), ("尹", 3), ("薛", 2), ("闫", 2), ("段", 2), ("雷", 2), ("侯", 2),
    ("龙", 2), ("史", 2), ("陶", 2), ("黎", 2), ("贺", 2), ("顾", 2), ("毛", 2), ("郝", 2),
    ("龚", 2), ("邵", 2), ("万", 2), ("钱", 2), ("严", 2), ("武", 2), ("戴", 2), ("孔", 2),
    ("常", 2), ("牛", 2), ("申", 1), ("翟", 1), ("岳", 1), ("耿", 1), ("楚", 1), ("鲁", 1),
    ("欧阳", 0.4), ("司马", 0.1), ("上官", 0.1), ("诸葛", 0.05), ("皇甫", 0.1), ("东方", 0.05),
)  # fmt: skip
_SURNAMES = tuple(s for s, _ in _SURNAME_WEIGHTS)
_SURNAME_CUM: list[float] = []
_acc = 0.0
for _, _w in _SURNAME_WEIGHTS:
    _acc += _w
    _SURNAME_CUM.append(_acc)
_SURNAME_TOTAL = _acc
del _acc, _w

# Common given-name characters, by sex and by era (born before / from 1985).
_GIVEN = {
    ("M", False): "国建军明华平刚勇志海文东永成春德学宝福生龙山忠庆利祥荣保振金林富贵发全兴中玉长有俊新",
    ("M", True): "伟强杰涛斌波辉鹏磊超峰亮浩宇博轩然豪凯鑫晨阳洋帅航飞龙俊明哲一子睿泽家思嘉",
    ("F", False): "秀英兰霞玲凤桂珍莲花翠玉娥淑芳梅琴云荣华素贞芝香巧菊爱月金彩春红莉敏丽",
    ("F", True): "静丽娟艳燕红洁萍慧婷雪倩颖欣怡雨佳琳涵梓萱悦瑶璐晶丹蕾薇楠诗梦思一可心",
}

# Mobile prefixes (China Mobile, Unicom, Telecom, Broadnet).
_PHONE_PREFIXES = _words(
    "134 135 136 137 138 139 150 151 152 157 158 159 182 183 187 188 198 130 131 132 155 156 166 185 "
    "186 176 133 153 173 177 180 181 189 191 199 192"
)

# Birth years 1930–2020, skewed old (subsidy recipients are mostly elderly; some children's subsidies).
# Value: how many of the 1000 sequence numbers per birth date the key space uses (a multiple of 10).
_FIRST_YEAR, _LAST_YEAR = 1930, 2020


def _year_slots(year: int) -> int:
    for upto, slots in ((1934, 200), (1939, 500), (1959, 1000), (1969, 700), (1979, 400), (1989, 300), (2009, 200)):
        if year <= upto:
            return slots
    return 300


_YEAR_STARTS: list[int] = []  # offset of each year's first key
_YEAR_SLOTS: list[int] = []
_YEAR_ORDINAL: list[int] = []  # ordinal of January 1st
_YEAR_HI_STEP: list[int] = []  # spreads the used sequence numbers over 000–999
_total = 0
for _year in range(_FIRST_YEAR, _LAST_YEAR + 1):
    _slots = _year_slots(_year)
    _first = dt.date(_year, 1, 1).toordinal()
    _YEAR_STARTS.append(_total)
    _YEAR_SLOTS.append(_slots)
    _YEAR_ORDINAL.append(_first)
    _YEAR_HI_STEP.append(100 // (_slots // 10))
    _total += (dt.date(_year + 1, 1, 1).toordinal() - _first) * _slots
_KEYSPACE = _total
del _total, _year, _slots, _first


def capacity() -> int:
    """How many distinct people ``iter_people`` can produce for one seed (about 1.6 × 10^7)."""
    return _KEYSPACE


def _decode_key(key: int) -> tuple[dt.date, int]:
    """Key → (birth date, 3-digit sequence number). Injective: distinct keys give distinct pairs."""
    j = bisect_right(_YEAR_STARTS, key) - 1
    slots = _YEAR_SLOTS[j]
    day, slot = divmod(key - _YEAR_STARTS[j], slots)
    hi, last = divmod(slot, 10)
    return dt.date.fromordinal(_YEAR_ORDINAL[j] + day), hi * _YEAR_HI_STEP[j] * 10 + last


# Other counties of the same province, for migrants' ID numbers (codes as found on real ID cards,
# including pre-2000 codes that old people still carry).
_PROVINCE_COUNTIES = {
    "41": _words(
        "410102 410104 410105 410106 410108 410122 410181 410182 410183 410184 410185 410202 410221 "
        "410322 410721 411081 411421 411723 412721"
    ),
}


def _other_regions(code: str) -> tuple[str, ...]:
    known = [c for c in _PROVINCE_COUNTIES.get(code[:2], ()) if c != code]
    if known:
        return tuple(known)
    candidates = [f"{code[:4]}{k:02d}" for k in (1, 2, 3, 4, 5, 21, 22, 23)]
    return tuple(c for c in candidates if c != code)


def _draw_name(rng: random.Random, sex: str, year: int) -> str:
    surname = _SURNAMES[bisect_right(_SURNAME_CUM, rng.random() * _SURNAME_TOTAL)]
    pool = _GIVEN[sex, year >= 1985]
    single = 0.3 if year < 1970 else 0.12
    if rng.random() < single:
        return surname + pool[rng.randrange(len(pool))]
    return surname + pool[rng.randrange(len(pool))] + pool[rng.randrange(len(pool))]


def _wrong_luhn_digit(rng: random.Random, number: str) -> str:
    correct = int(luhn.calc_check_digit(number))
    return str((correct + 1 + rng.randrange(9)) % 10)


class _People:
    """Makes person ``i`` of a population from ``(seed, county, i)`` alone."""

    def __init__(
        self,
        seed: int,
        county: County,
        *,
        holder_mismatch_rate: float,
        passbook_rate: float,
        migrant_rate: float,
    ) -> None:
        self.seed = seed
        self.villages = tuple(v.code for v in county.villages())
        if not self.villages:
            raise ValueError("county has no villages")
        self.home = county.code
        self.others = _other_regions(county.code)
        self.holder_mismatch_rate = holder_mismatch_rate
        self.passbook_rate = passbook_rate
        self.migrant_rate = migrant_rate
        self.id_key = _Permutation(_KEYSPACE, seed, _S_ID_PERMUTATION)
        self.account_key = _Permutation(10**12, seed, _S_ACCOUNT_PERMUTATION)

    def make(self, i: int) -> tuple[Person, random.Random]:
        """Person ``i`` and its random stream, positioned after the person's draws (rosters go on drawing)."""
        rng = random.Random(_stream_seed(self.seed, _S_PERSON, i))
        birth, seq = _decode_key(self.id_key(i))
        sex = "M" if seq % 2 else "F"
        if rng.random() < self.migrant_rate and self.others:
            region = self.others[rng.randrange(len(self.others))]
        else:
            region = self.home
        body = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq:03d}"
        id_number = body + ric.calc_check_digit(body + "0")  # stdnum ignores the 18th character
        name = _draw_name(rng, sex, birth.year)
        village = self.villages[rng.randrange(len(self.villages))]
        phone = _PHONE_PREFIXES[rng.randrange(len(_PHONE_PREFIXES))] + f"{rng.randrange(10**8):08d}"
        bank = BANKS[bisect_right(_BANK_CUM, rng.randrange(_BANK_TOTAL))]
        serial = f"{self.account_key(i):012d}"
        if rng.random() < self.passbook_rate:
            stem = bank.passbook_prefix + serial  # 15 digits
            account = stem + _wrong_luhn_digit(rng, stem)
        else:
            stem = bank.bin + serial  # 18 digits
            account = stem + luhn.calc_check_digit(stem)
        holder = name
        if rng.random() < self.holder_mismatch_rate:
            spouse_sex = "F" if sex == "M" else "M"
            while holder == name:
                holder = _draw_name(rng, spouse_sex, birth.year + rng.randrange(-5, 6))
        person = Person(name, id_number, sex, birth, village, phone, bank.code, account, holder)
        return person, rng


def iter_people(
    seed: int,
    county: County,
    n: int,
    *,
    start: int = 0,
    holder_mismatch_rate: float = 0.01,
    passbook_rate: float = 0.02,
    migrant_rate: float = 0.03,
) -> Iterator[Person]:
    """People ``start`` … ``start + n - 1`` of the population of ``county`` for ``seed``.

    ID numbers are unique across the whole population (not only within one call), because the
    birth date and sequence number are a bijection of the person's index. Changing a rate changes
    only the fields it governs for the affected people (and the draws that follow them).
    """
    if n < 0 or start < 0:
        raise ValueError("n and start must not be negative")
    if start + n > _KEYSPACE:
        raise ValueError(f"at most {_KEYSPACE} people per seed")
    people = _People(
        seed,
        county,
        holder_mismatch_rate=holder_mismatch_rate,
        passbook_rate=passbook_rate,
        migrant_rate=migrant_rate,
    )
    for i in range(start, start + n):
        yield people.make(i)[0]


def person_at(seed: int, county: County, i: int, **rates: float) -> Person:
    """Person ``i`` alone (same as the ``i``-th item of ``iter_people(seed, county, i + 1)``)."""
    return next(iter_people(seed, county, 1, start=i, **rates))


def write_people_csv(people: Iterable[Person], path: str | Path, *, encoding: str = "utf-8") -> int:
    """Write people as CSV with a header of ``PERSON_FIELDS``; returns the number of rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(PERSON_FIELDS)
        for p in people:
            birth = p.birth_date.isoformat()
            writer.writerow(
                (p.name, p.id_number, p.sex, birth, p.village_code, p.phone, p.bank_code, p.account, p.holder_name)
            )
            count += 1
    return count


# ---------------------------------------------------------------------------------------------
# Rosters (名册)
# ---------------------------------------------------------------------------------------------

COLUMNS = (
    "序号",
    "姓名",
    "身份证号码",
    "性别",
    "乡镇（街道）",
    "村（社区）",
    "银行账号",
    "开户银行",
    "发放金额（元）",
    "备注",
)
C_SEQ, C_NAME, C_ID, C_SEX, C_TOWN, C_VILLAGE, C_ACCOUNT, C_BANK, C_AMOUNT, C_REMARK = COLUMNS

DEFECTS = (
    "id_checksum",  # one digit of the ID changed: the check character no longer matches
    "id_not_text",  # the ID became a float in Excel: 4.10103199003074e+17
    "id_birthdate",  # checksum right, but the birth date part is not a date
    "name_missing",  # 姓名 empty
    "account_format",  # account truncated or with a letter in it
    "amount_invalid",  # "一百元"
    "amount_not_positive",  # "0" or negative
    "duplicate_in_file",  # an earlier row's person (name, ID, account) again
)

# Harmless variants a tolerant importer must accept (rates per row, independent of each other).
_QUIRK_FULLWIDTH_ID = 0.003
_QUIRK_LOWER_X = 0.1  # of IDs ending in X
_QUIRK_ID_SPACE = 0.005
_QUIRK_NAME_SPACE = 0.005
_QUIRK_ACCOUNT_GROUPED = 0.005
_QUIRK_AMOUNT_YUAN = 0.01
_QUIRK_AMOUNT_PLAIN = 0.02

_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_BAD_MONTH_DAY = ("1302", "0230", "0431", "0000", "1232", "0631")


def _plain_amount(amount: str) -> str:
    """ "100.00" → "100", "1250.50" → "1250.5" (how people type amounts)."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return amount
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def iter_roster_rows(
    seed: int,
    county: County,
    n: int,
    *,
    amount: str = "100.00",
    error_rate: float = 0.0,
    quirks: bool = True,
    holder_mismatch_rate: float = 0.01,
    passbook_rate: float = 0.02,
    migrant_rate: float = 0.03,
) -> Iterator[dict]:
    """Roster rows for people 0 … n-1, keyed by ``COLUMNS`` plus ``"_defect"``.

    With ``error_rate > 0`` about that share of rows carries exactly one defect from ``DEFECTS``,
    named in ``row["_defect"]`` (``None`` for good rows). ``quirks`` adds harmless variants to good
    and bad rows alike: full-width digits or a lower-case x in an ID, stray spaces in names and IDs,
    accounts grouped by four, amounts typed as "100元" or "100". The ID cell of ``id_not_text`` rows
    is a ``float``; every other cell is ``str`` except 序号 (``int``).
    """
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    people = _People(
        seed,
        county,
        holder_mismatch_rate=holder_mismatch_rate,
        passbook_rate=passbook_rate,
        migrant_rate=migrant_rate,
    )
    if n < 0 or n > _KEYSPACE:
        raise ValueError(f"n must be between 0 and {_KEYSPACE}")
    places = {v.code: (t.name, v.name) for t in county.townships for v in t.villages}
    bank_names = {b.code: b.name.format(county=county.name) for b in BANKS}
    plain = _plain_amount(amount)
    typed_yuan = plain + "元"
    recent: deque[tuple[str, str, str, str, str, str, str]] = deque(maxlen=512)

    for i in range(n):
        p, rng = people.make(i)
        town, village = places[p.village_code]
        name, id_number, sex, account, bank = p.name, p.id_number, SEX_LABELS[p.sex], p.account, bank_names[p.bank_code]
        row_amount = amount
        remark = f"户名：{p.holder_name}（配偶账户）" if p.holder_name != p.name else ""

        defect = None
        u, kind_draw = rng.random(), rng.randrange(len(DEFECTS))
        if u < error_rate:
            defect = DEFECTS[kind_draw]
            if defect == "duplicate_in_file" and not recent:
                defect = DEFECTS[kind_draw % (len(DEFECTS) - 1)]
        id_value: str | float = id_number
        if defect is None:
            recent.append((name, id_number, sex, town, village, account, bank))
        elif defect == "id_checksum":
            pos = 14 + rng.randrange(2)  # a sequence digit: leaves birth date and sex digit alone
            digit = str((int(id_number[pos]) + 1 + rng.randrange(9)) % 10)
            id_value = id_number[:pos] + digit + id_number[pos + 1 :]
        elif defect == "id_not_text":
            id_value = float(int(id_number.replace("X", "0")))
        elif defect == "id_birthdate":
            stem = id_number[:10] + _BAD_MONTH_DAY[rng.randrange(len(_BAD_MONTH_DAY))] + id_number[14:17]
            id_value = stem + ric.calc_check_digit(stem + "0")
        elif defect == "name_missing":
            name = ""
        elif defect == "account_format":
            if rng.random() < 0.5:
                # Cut below the 12 digits any bank account has: a truncated number, not a short valid one.
                account = account[: 8 + rng.randrange(4)]
            else:
                pos = rng.randrange(4, len(account))
                account = account[:pos] + "O" + account[pos + 1 :]
        elif defect == "amount_invalid":
            row_amount = ("一百元", "壹佰元整", "待定")[rng.randrange(3)]
        elif defect == "amount_not_positive":
            row_amount = ("0", "0.00", "-" + amount)[rng.randrange(3)]
        else:  # duplicate_in_file
            name, id_value, sex, town, village, account, bank = recent[rng.randrange(len(recent))]
            remark = ""

        if quirks:
            q = rng.random
            if isinstance(id_value, str):
                if q() < _QUIRK_FULLWIDTH_ID:
                    id_value = id_value.translate(_FULLWIDTH)
                if id_value.endswith("X") and q() < _QUIRK_LOWER_X:
                    id_value = id_value[:-1] + "x"
                if q() < _QUIRK_ID_SPACE:
                    id_value = id_value + " " if q() < 0.5 else " " + id_value
            if name and q() < _QUIRK_NAME_SPACE:
                name = (" " + name, name + " ", name[0] + " " + name[1:])[rng.randrange(3)]
            if q() < _QUIRK_ACCOUNT_GROUPED:
                account = " ".join(account[k : k + 4] for k in range(0, len(account), 4))
            if row_amount == amount:
                r = q()
                if r < _QUIRK_AMOUNT_YUAN:
                    row_amount = typed_yuan
                elif r < _QUIRK_AMOUNT_YUAN + _QUIRK_AMOUNT_PLAIN:
                    row_amount = plain

        yield {
            C_SEQ: i + 1,
            C_NAME: name,
            C_ID: id_value,
            C_SEX: sex,
            C_TOWN: town,
            C_VILLAGE: village,
            C_ACCOUNT: account,
            C_BANK: bank,
            C_AMOUNT: row_amount,
            C_REMARK: remark,
            "_defect": defect,
        }


def _id_cell_text(value: str | float) -> str:
    """How a CSV shows an ID: text as is, a float the way a spreadsheet exports it (15 significant digits)."""
    return f"{value:.14e}" if isinstance(value, float) else value


def write_roster_csv(rows: Iterable[dict], path: str | Path, *, encoding: str = "utf-8") -> int:
    """Write roster rows (``COLUMNS`` only; ``_defect`` is left out) as CSV; returns the row count.
    ``encoding="gbk"`` gives what an older Excel on Chinese Windows saves."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        write = writer.writerow
        for row in rows:
            values = [row[c] for c in COLUMNS]
            if isinstance(values[2], float):
                values[2] = _id_cell_text(values[2])
            write(values)
            count += 1
    return count


def _as_number(text: str) -> float | None:
    """A clean decimal number as float (how Excel stores a typed amount), else None."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        return None
    if not value.is_finite() or text.strip() != text or not text[-1:].isdigit():
        return None
    return float(value)


def write_roster_xlsx(
    rows: Iterable[dict],
    path: str | Path,
    *,
    title: str = "二七区高龄津贴发放名册",
    unit: str = "填报单位：郑州市二七区民政局",
) -> int:
    """Write roster rows as a clerk's Excel file, streaming (xlsxwriter ``constant_memory``).

    Layout: title line, 填报单位 line, header, rows, a 合计 row, a signature line. ID and account
    cells are text (a float ID of an ``id_not_text`` row is written as a number, which is the defect);
    numeric amounts are numbers, anything else ("100元", "一百元") text. Returns the data row count.
    """
    import xlsxwriter  # imported here: only this writer needs it

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    try:
        sheet = workbook.add_worksheet("发放名册")
        f_title = workbook.add_format({"bold": True, "font_size": 16, "align": "center"})
        f_header = workbook.add_format({"bold": True, "border": 1, "align": "center", "text_wrap": True})
        f_text = workbook.add_format({"num_format": "@", "border": 1})
        f_cell = workbook.add_format({"border": 1})
        f_money = workbook.add_format({"num_format": "0.00", "border": 1})
        for col, width in enumerate((7, 10, 21, 5, 14, 14, 23, 26, 12, 24)):
            sheet.set_column(col, col, width, f_text if col in (2, 6) else None)
        last_col = len(COLUMNS) - 1
        sheet.merge_range(0, 0, 0, last_col, title, f_title)
        sheet.write_string(1, 0, unit)
        for col, heading in enumerate(COLUMNS):
            sheet.write_string(2, col, heading, f_header)

        r = 3
        total = Decimal(0)
        count = 0
        for row in rows:
            sheet.write_number(r, 0, row[C_SEQ], f_cell)
            sheet.write_string(r, 1, row[C_NAME], f_cell)
            id_value = row[C_ID]
            if isinstance(id_value, float):
                sheet.write_number(r, 2, id_value, f_cell)
            else:
                sheet.write_string(r, 2, id_value, f_text)
            sheet.write_string(r, 3, row[C_SEX], f_cell)
            sheet.write_string(r, 4, row[C_TOWN], f_cell)
            sheet.write_string(r, 5, row[C_VILLAGE], f_cell)
            sheet.write_string(r, 6, row[C_ACCOUNT], f_text)
            sheet.write_string(r, 7, row[C_BANK], f_cell)
            amount = row[C_AMOUNT]
            number = _as_number(amount)
            if number is None:
                sheet.write_string(r, 8, amount, f_cell)
            else:
                sheet.write_number(r, 8, number, f_money)
                total += Decimal(amount)
            sheet.write_string(r, 9, row[C_REMARK], f_cell)
            r += 1
            count += 1

        sheet.write_string(r, 0, "合计", f_header)
        sheet.write_string(r, 1, f"{count}人", f_cell)
        sheet.write_number(r, 8, float(total), f_money)
        sheet.write_string(r + 2, 0, "经办人：　　　　　　审核人：　　　　　　单位负责人：　　　　　　填报日期：")
    finally:
        workbook.close()
    return count


# ---------------------------------------------------------------------------------------------
# Policies (补贴政策清单)
# ---------------------------------------------------------------------------------------------


def _policy_dict(entry: tuple, code: str, basis_no: int, suffix: str = "") -> dict:
    name, department, level, standard, unit, frequency, target_group = entry
    return {
        "code": code,
        "name": name + suffix,
        "department": department,
        "level": level,
        "standard": standard,
        "unit": unit,
        "frequency": frequency,
        "target_group": target_group,
        "basis": f"{department}规〔{2018 + basis_no % 8}〕{basis_no}号",
    }


def iter_policies(seed: int, n: int = 45) -> list[dict]:
    """``n`` county subsidy policies (dicts: code, name, department, level, standard, unit, frequency,
    target_group, basis), ordered by code.

    For ``n`` up to the catalogue size (58) the seed picks which policies the county has, always one
    at least from each of the 12 departments when ``n >= 12``. Beyond it, later rounds of existing
    policies are added ("（第2批）"), as counties do when a year has a second allocation.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    rng = random.Random(_stream_seed(seed, _S_POLICIES))
    serials: dict[str, int] = {}
    coded = []
    for entry in _POLICY_CATALOGUE:
        prefix = _DEPARTMENT_PREFIX[entry[1]]
        serials[prefix] = serials.get(prefix, 0) + 1
        coded.append((f"{prefix}-{serials[prefix]:02d}", entry))

    if n <= len(coded):
        order = rng.sample(range(len(coded)), len(coded))
        chosen, seen = [], set()
        for k in order:  # first one per department, then the rest in random order
            if coded[k][1][1] not in seen:
                seen.add(coded[k][1][1])
                chosen.append(k)
        first = set(chosen)
        chosen += [k for k in order if k not in first]
        picked = sorted(chosen[:n])
        return [_policy_dict(coded[k][1], coded[k][0], rng.randrange(1, 60)) for k in picked]

    result = [_policy_dict(entry, code, rng.randrange(1, 60)) for code, entry in coded]
    extra = n - len(coded)
    round_no = 2
    while extra:
        for code, entry in rng.sample(coded, min(extra, len(coded))):
            result.append(_policy_dict(entry, f"{code}-{round_no}", rng.randrange(1, 60), f"（第{round_no}批）"))
        extra -= min(extra, len(coded))
        round_no += 1
    result.sort(key=lambda p: p["code"])
    return result


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _county_from(args: argparse.Namespace) -> County:
    return make_county(
        args.seed,
        code=args.county_code,
        name=args.county_name,
        townships=args.townships,
        villages_per_township=args.villages,
    )


def _report(kind: str, count: int, out: Path, seconds: float) -> None:
    rate = count / seconds if seconds > 0 else float("inf")
    print(f"{count} {kind} rows written to {out} in {seconds:.1f} s ({rate:,.0f} rows/s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.synth",
        description="Write reproducible synthetic county data (divisions, people, rosters, policies).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, *, rows: bool) -> None:
        p.add_argument("--seed", type=int, default=1, help="integer seed (default 1)")
        p.add_argument("--out", type=Path, required=True, help="output file")
        if rows:
            p.add_argument("--rows", type=int, required=True, help="number of rows")
        p.add_argument("--county-code", default="410103", help="6-digit county code (default 410103)")
        p.add_argument("--county-name", default="二七区", help="county name (default 二七区)")
        p.add_argument("--townships", type=int, default=12, help="townships in the county (default 12)")
        p.add_argument("--villages", type=int, default=10, help="villages per township (default 10)")

    p_roster = sub.add_parser("roster", help="a recipient roster (名册) as CSV or xlsx")
    common(p_roster, rows=True)
    p_roster.add_argument("--format", choices=("csv", "xlsx"), help="default: from the --out suffix, else csv")
    p_roster.add_argument("--error-rate", type=float, default=0.0, help="share of rows with one defect (0–1)")
    p_roster.add_argument("--amount", default="100.00", help="amount per row in yuan (default 100.00)")
    p_roster.add_argument("--encoding", default="utf-8", help="CSV encoding, e.g. utf-8, utf-8-sig, gbk")
    p_roster.add_argument("--no-quirks", action="store_true", help="no full-width digits, stray spaces, 100元")

    p_div = sub.add_parser("divisions", help="code,name CSV of the county, its townships and villages")
    common(p_div, rows=False)

    p_people = sub.add_parser("people", help="people (all Person fields) as CSV")
    common(p_people, rows=True)
    p_people.add_argument("--start", type=int, default=0, help="index of the first person (for slices)")

    p_pol = sub.add_parser("policies", help="county policy list as CSV")
    p_pol.add_argument("--seed", type=int, default=1, help="integer seed (default 1)")
    p_pol.add_argument("--out", type=Path, required=True, help="output file")
    p_pol.add_argument("--rows", type=int, default=45, help="number of policies (default 45)")

    args = parser.parse_args(argv)
    out: Path = args.out
    began = time.perf_counter()

    if args.command == "roster":
        county = _county_from(args)
        rows = iter_roster_rows(
            args.seed, county, args.rows, amount=args.amount, error_rate=args.error_rate, quirks=not args.no_quirks
        )
        fmt = args.format or ("xlsx" if out.suffix.lower() == ".xlsx" else "csv")
        if fmt == "xlsx":
            count = write_roster_xlsx(rows, out, title=f"{county.name}高龄津贴发放名册")
        else:
            count = write_roster_csv(rows, out, encoding=args.encoding)
        _report("roster", count, out, time.perf_counter() - began)
    elif args.command == "divisions":
        count = write_divisions_csv(_county_from(args), out)
        _report("division", count, out, time.perf_counter() - began)
    elif args.command == "people":
        people = iter_people(args.seed, _county_from(args), args.rows, start=args.start)
        count = write_people_csv(people, out)
        _report("people", count, out, time.perf_counter() - began)
    else:
        policies = iter_policies(args.seed, args.rows)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(policies[0]) if policies else ["code"])
            writer.writeheader()
            writer.writerows(policies)
        _report("policy", len(policies), out, time.perf_counter() - began)
    return 0


if __name__ == "__main__":
    sys.exit(main())
