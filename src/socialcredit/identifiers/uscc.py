"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015): validate, explain, generate.

Every legal person and other organisation registered in mainland China carries one
18-character code. The ledger uses organisation ids in this form, so a mistyped code
must not silently become a *different* organisation with a clean record: we validate
before we accept, and when we reject we say which position is wrong and why.

Layout (positions are 1-based, as in the standard)::

    9 1 350100 M000100Y4 3
    | | |      |         +-- 18     check character over positions 1-17 (mod 31)
    | | |      +------------ 9-17   organization code (GB 11714); 17 is its own
    | | |                           check digit (mod 11)
    | | +------------------- 3-8    administrative division of the registering
    | |                             authority (GB/T 2260); 3-4 give the province
    | +--------------------- 2      entity type, meaningful only together with 1
    +----------------------- 1      registering authority

Three outcomes, because the real world has three:

* ``"valid"``: structure and both check characters are right.
* ``"legacy"``: structure is right and exactly one of the two checks fails. Some
  early pilot codes were issued with a wrong check character and remain legally in
  use; refusing them would wrong the organisation, accepting them silently would
  hide a possible typo. They are reported distinctly, with the failed check named.
* ``"invalid"``: wrong length, a character outside the code alphabet, an impossible
  structure (unknown authority, entity type not defined for that authority,
  non-digit or unknown division), or *both* checks failing at once (nothing vouches
  for the code any more: a single typo in positions 9-17 usually does that).

Sources and what is verified: the alphabet, the two check algorithms and the layout
are from GB 32100-2015 and GB 11714 and agree with python-stdnum's ``cn.uscc`` (same
weights and mapping; the tests check the check characters against it). The authority and
entity-type table (:data:`AUTHORITIES`) is the one reproduced identically by several
independent public implementations; we could not read the standard's own annex, so it
is marked *reported, not verified against the standard text*. In particular the rows
``A`` (Central Military Commission reform and staffing office) and ``N`` (agriculture,
rural collective economic organisations) are later additions reported by those
implementations. GB 11714 letter values (A=10 … Z=35, the full Latin alphabet, unlike
the USCC mapping) are likewise taken from public implementations that agree.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "ALPHABET",
    "AUTHORITIES",
    "FORBIDDEN_LETTERS",
    "PROVINCES",
    "Authority",
    "Status",
    "UsccParts",
    "UsccResult",
    "check_character",
    "explain",
    "generate",
    "is_valid",
    "looks_like_uscc",
    "org_code_check_digit",
    "validate",
]

Status = Literal["valid", "legacy", "invalid"]

#: The 31 characters of the code, in value order: the index of a character is its
#: value in the mod-31 check (0-9 = 0-9, A = 10, …, Y = 30).
ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Letters left out of the alphabet because they are easily confused with digits
#: (I/1, O/0, Z/2, S/5, V/U).
FORBIDDEN_LETTERS: Final = "IOZSV"

_VALUE: Final[dict[str, int]] = {c: i for i, c in enumerate(ALPHABET)}
#: Weights for positions 1..17: 3^(i-1) mod 31. Since 31 is prime and no weight is
#: 0 mod 31, any single substitution among positions 1-17 changes the sum mod 31,
#: so the check character always detects it.
_WEIGHTS: Final[tuple[int, ...]] = tuple(pow(3, i, 31) for i in range(17))

#: GB 11714 values: the full Latin alphabet after the digits (A = 10 … Z = 35).
_ORG_VALUE: Final[dict[str, int]] = {
    c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}
_ORG_WEIGHTS: Final[tuple[int, ...]] = (3, 7, 9, 10, 5, 8, 4, 2)

_CANDIDATE_RE: Final = re.compile(r"[0-9A-Z]{18}")


@dataclass(frozen=True)
class Authority:
    """A registering authority (position 1) and the entity types it may assign.

    The entity type is a second-level code: ``"1"`` means "enterprise" under market
    regulation (``9``) but "social organisation" under civil affairs (``5``), so
    entity types only have meaning inside their authority.
    """

    name: str
    name_zh: str
    entity_types: dict[str, str]


#: Position 1 → authority; position 2 → entity type under that authority.
#: Reported by several independent public implementations of GB 32100 (identical
#: tables); not verified against the standard's annex itself.
AUTHORITIES: Final[dict[str, Authority]] = {
    "1": Authority(
        "institutional staffing (organs of state and government)",
        "机构编制",
        {
            "1": "state organ (government agency)",
            "2": "public institution",
            "3": "mass organisation whose staffing the central staffing office manages",
            "9": "other",
        },
    ),
    "2": Authority(
        "foreign affairs",
        "外交",
        {"1": "resident foreign news agency", "9": "other"},
    ),
    "3": Authority(
        "judicial administration",
        "司法行政",
        {
            "1": "law firm",
            "2": "notary office",
            "3": "basic-level legal service office",
            "4": "forensic appraisal institution",
            "5": "arbitration commission",
            "9": "other",
        },
    ),
    "4": Authority(
        "culture",
        "文化",
        {"1": "foreign cultural centre in China", "9": "other"},
    ),
    "5": Authority(
        "civil affairs",
        "民政",
        {
            "1": "social organisation",
            "2": "private non-enterprise unit",
            "3": "foundation",
            "9": "other",
        },
    ),
    "6": Authority(
        "tourism",
        "旅游",
        {
            "1": "resident representative office of a foreign tourism authority",
            "2": "resident mainland office of a Hong Kong, Macau or Taiwan tourism authority",
            "9": "other",
        },
    ),
    "7": Authority(
        "religious affairs",
        "宗教",
        {"1": "venue for religious activities", "2": "religious college", "9": "other"},
    ),
    "8": Authority(
        "trade unions",
        "工会",
        {"1": "grassroots trade union", "9": "other"},
    ),
    "9": Authority(
        "industry and commerce (market regulation)",
        "工商",
        {
            "1": "enterprise",
            "2": "individual business (getihu)",
            "3": "farmers' specialised cooperative",
        },
    ),
    "A": Authority(
        "Central Military Commission reform and staffing office",
        "中央军委改革和编制办公室",
        {"1": "military public institution", "9": "other"},
    ),
    "N": Authority(
        "agriculture (rural collective economic organisations)",
        "农业",
        {
            "1": "group-level collective economic organisation",
            "2": "village-level collective economic organisation",
            "3": "township-level collective economic organisation",
            "9": "other",
        },
    ),
    "Y": Authority("other registering authorities", "其他", {"1": "other"}),
}

#: GB/T 2260 province-level divisions: the first two digits of positions 3-8.
#: 34 entries: 31 mainland provinces, autonomous regions and municipalities, plus
#: Taiwan, Hong Kong and Macau, which the division table lists too.
PROVINCES: Final[dict[str, str]] = {
    "11": "Beijing",
    "12": "Tianjin",
    "13": "Hebei",
    "14": "Shanxi",
    "15": "Inner Mongolia",
    "21": "Liaoning",
    "22": "Jilin",
    "23": "Heilongjiang",
    "31": "Shanghai",
    "32": "Jiangsu",
    "33": "Zhejiang",
    "34": "Anhui",
    "35": "Fujian",
    "36": "Jiangxi",
    "37": "Shandong",
    "41": "Henan",
    "42": "Hubei",
    "43": "Hunan",
    "44": "Guangdong",
    "45": "Guangxi",
    "46": "Hainan",
    "50": "Chongqing",
    "51": "Sichuan",
    "52": "Guizhou",
    "53": "Yunnan",
    "54": "Tibet",
    "61": "Shaanxi",
    "62": "Gansu",
    "63": "Qinghai",
    "64": "Ningxia",
    "65": "Xinjiang",
    "71": "Taiwan",
    "81": "Hong Kong",
    "82": "Macau",
}

#: Division code used for registration at central (national) level, e.g. central
#: state organs. Accepted so that such codes are not rejected; its use is reported
#: by practice, not verified against GB/T 2260.
NATIONAL_DIVISION: Final = "100000"

#: Provinces whose authorities actually issue codes; used by :func:`generate`.
_MAINLAND: Final[tuple[str, ...]] = tuple(p for p in PROVINCES if p not in {"71", "81", "82"})


@dataclass(frozen=True)
class UsccParts:
    """What each part of an 18-character code means.

    Meanings are ``None`` where the part is not a known value, so a caller (or the
    CLI) can show exactly which part could not be explained.
    """

    authority_code: str
    authority: str | None
    entity_type_code: str
    entity_type: str | None
    division_code: str
    province_code: str
    province: str | None
    organization_code: str
    org_check_digit: str
    check_character: str

    def as_dict(self) -> dict[str, str | None]:
        """Plain mapping for JSON output."""
        return {
            "authority_code": self.authority_code,
            "authority": self.authority,
            "entity_type_code": self.entity_type_code,
            "entity_type": self.entity_type,
            "division_code": self.division_code,
            "province_code": self.province_code,
            "province": self.province,
            "organization_code": self.organization_code,
            "org_check_digit": self.org_check_digit,
            "check_character": self.check_character,
        }


@dataclass(frozen=True)
class UsccResult:
    """The outcome of :func:`validate`.

    ``failed_checks`` names the checks that failed (``"organization_code"`` for
    position 17, ``"check_character"`` for position 18) so a ``"legacy"`` result
    says which check it survived without. ``parts`` is ``None`` only when the code is
    not 18 characters long and there is nothing positional to explain.
    """

    code: str
    status: Status
    errors: list[str] = field(default_factory=list)
    parts: UsccParts | None = None
    failed_checks: tuple[str, ...] = ()

    @property
    def is_valid(self) -> bool:
        """True only for ``"valid"``: legacy codes need a human's attention."""
        return self.status == "valid"

    def as_dict(self) -> dict[str, Any]:
        """Plain mapping for JSON output."""
        return {
            "code": self.code,
            "status": self.status,
            "errors": list(self.errors),
            "failed_checks": list(self.failed_checks),
            "parts": None if self.parts is None else self.parts.as_dict(),
        }


def _normalise(code: str) -> str:
    return code.strip().upper()


def check_character(first17: str) -> str:
    """The 18th character for the first 17: (31 − Σ value × 3^(i−1) mod 31) mod 31.

    Raises ``ValueError`` if ``first17`` is not 17 characters of the code alphabet,
    because a check character over foreign characters would be meaningless.
    """
    s = _normalise(first17)
    if len(s) != 17:
        raise ValueError(f"need 17 characters, got {len(s)}")
    bad = [c for c in s if c not in _VALUE]
    if bad:
        raise ValueError(f"characters outside the code alphabet: {''.join(bad)!r}")
    total = sum(_VALUE[c] * w for c, w in zip(s, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_code_check_digit(eight: str) -> str:
    """The GB 11714 check digit for an 8-character organization-code body.

    C = 11 − (Σ value × weight mod 11) with weights 3, 7, 9, 10, 5, 8, 4, 2 and
    letters valued A = 10 … Z = 35; C = 10 is written ``X`` and C = 11 ``0``.
    Accepts the whole Latin alphabet because GB 11714 does; the USCC alphabet
    restriction is enforced by :func:`validate`.
    """
    s = _normalise(eight)
    if len(s) != 8:
        raise ValueError(f"need 8 characters, got {len(s)}")
    bad = [c for c in s if c not in _ORG_VALUE]
    if bad:
        raise ValueError(f"characters outside 0-9A-Z: {''.join(bad)!r}")
    c = 11 - sum(_ORG_VALUE[ch] * w for ch, w in zip(s, _ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def looks_like_uscc(s: str) -> bool:
    """True if ``s`` has the *shape* of a code: 18 characters from 0-9A-Z.

    Deliberately wider than the code alphabet (it admits I, O, Z, S, V) and
    normalised like :func:`validate` (stripped, upper-cased): the ledger uses this
    to decide whether an organisation id must be validated, and an id that is a
    code with a typo must be validated and rejected, not waved through as "some
    other kind of id".
    """
    return _CANDIDATE_RE.fullmatch(_normalise(s)) is not None


def explain(code: str) -> UsccParts:
    """Split an 18-character code into its parts and say what each means.

    Does not judge validity (see :func:`validate`); unknown values get ``None``.
    """
    s = _normalise(code)
    if len(s) != 18:
        raise ValueError(f"need 18 characters, got {len(s)}")
    auth = AUTHORITIES.get(s[0])
    division = s[2:8]
    province_code = division[:2]
    province = PROVINCES.get(province_code)
    if division == NATIONAL_DIVISION:
        province = "national level (central registration)"
    return UsccParts(
        authority_code=s[0],
        authority=None if auth is None else f"{auth.name} ({auth.name_zh})",
        entity_type_code=s[1],
        entity_type=None if auth is None else auth.entity_types.get(s[1]),
        division_code=division,
        province_code=province_code,
        province=province,
        organization_code=s[8:17],
        org_check_digit=s[16],
        check_character=s[17],
    )


def _structure_errors(s: str) -> list[str]:
    """Errors that make a code impossible, as opposed to merely failing a check."""
    errors: list[str] = []
    if len(s) != 18:
        errors.append(f"length: {len(s)} characters, expected 18")
    for i, c in enumerate(s, start=1):
        if c in FORBIDDEN_LETTERS:
            errors.append(
                f"position {i}: {c!r} is not allowed (I, O, Z, S, V are excluded from the code)"
            )
        elif c not in _VALUE:
            errors.append(f"position {i}: {c!r} is not in the code alphabet 0-9, A-Y")
    if len(s) != 18:
        return errors
    auth = AUTHORITIES.get(s[0])
    if auth is None:
        known = ", ".join(AUTHORITIES)
        errors.append(f"position 1: {s[0]!r} is not a registering authority ({known})")
    elif s[1] not in auth.entity_types:
        known = ", ".join(auth.entity_types)
        errors.append(
            f"position 2: {s[1]!r} is not an entity type for authority {s[0]!r} "
            f"({auth.name}; expected one of {known})"
        )
    division = s[2:8]
    if not (division.isascii() and division.isdigit()):
        errors.append(f"positions 3-8: division code {division!r} must be 6 digits")
    elif division != NATIONAL_DIVISION and division[:2] not in PROVINCES:
        errors.append(f"positions 3-4: {division[:2]!r} is not a province-level division code")
    if s[16] not in "0123456789X":
        errors.append(f"position 17: organization-code check digit {s[16]!r} must be 0-9 or X")
    return errors


def validate(code: str) -> UsccResult:
    """Validate a code and explain it; never raises on bad input.

    Returns ``"invalid"`` for structural faults or when both checks fail,
    ``"legacy"`` when the structure is sound and exactly one check fails, and
    ``"valid"`` otherwise. Every error names the position it is about.
    """
    s = _normalise(code)
    errors = _structure_errors(s)
    parts = explain(s) if len(s) == 18 else None
    if errors:
        return UsccResult(code=s, status="invalid", errors=errors, parts=parts)

    failed: list[str] = []
    expected_org = org_code_check_digit(s[8:16])
    if s[16] != expected_org:
        failed.append("organization_code")
        errors.append(
            f"position 17: organization-code check digit is {s[16]!r}, expected {expected_org!r}"
        )
    expected = check_character(s[:17])
    if s[17] != expected:
        failed.append("check_character")
        errors.append(f"position 18: check character is {s[17]!r}, expected {expected!r}")

    status: Status
    if not failed:
        status = "valid"
    elif len(failed) == 1:
        status = "legacy"
    else:
        status = "invalid"
    return UsccResult(
        code=s, status=status, errors=errors, parts=parts, failed_checks=tuple(failed)
    )


def is_valid(code: str) -> bool:
    """True only if :func:`validate` says ``"valid"`` (legacy codes are not)."""
    return validate(code).status == "valid"


#: Authority/type pairs for synthetic populations, weighted roughly like a real
#: register: mostly enterprises and individual businesses, a tail of others.
_GENERATED_KINDS: Final[tuple[tuple[str, int], ...]] = (
    ("91", 50),
    ("92", 25),
    ("93", 5),
    ("11", 4),
    ("12", 5),
    ("51", 3),
    ("52", 3),
    ("53", 1),
    ("31", 1),
    ("71", 1),
    ("81", 1),
    ("N2", 1),
)

_PROVINCE_BY_NAME: Final[dict[str, str]] = {name.lower(): code for code, name in PROVINCES.items()}


def _province_code(province: str) -> str:
    key = province.strip()
    if key in PROVINCES:
        return key
    found = _PROVINCE_BY_NAME.get(key.lower())
    if found is None:
        raise ValueError(f"unknown province {province!r}: give a code such as '11' or a name")
    return found


def generate(rng: random.Random, province: str | None = None) -> str:
    """A valid code for synthetic populations, deterministic for a seeded ``rng``.

    ``province`` is a two-digit code (``"44"``) or an English name
    (``"Guangdong"``); by default a mainland province is drawn. Only the authority,
    entity type and province prefix are realistic; the rest of the division code
    and the organization code are random, so generated codes do not identify real
    organisations (collisions with a real code are possible but meaningless).
    """
    prov = rng.choice(_MAINLAND) if province is None else _province_code(province)
    kinds = [k for k, _ in _GENERATED_KINDS]
    weights = [w for _, w in _GENERATED_KINDS]
    kind = rng.choices(kinds, weights=weights)[0]
    # Provincial-level registration ("0000") or a prefecture and county below it.
    if rng.random() < 0.1:
        rest = "0000"
    else:
        rest = f"{rng.randint(1, 30):02d}{rng.choice([0, *range(1, 30)]):02d}"
    if rng.random() < 0.5:
        # Bodies assigned since the 2015 reform are commonly seen to begin with "MA".
        body = "MA" + "".join(rng.choice(ALPHABET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = kind + prov + rest + body + org_code_check_digit(body)
    return first17 + check_character(first17)
