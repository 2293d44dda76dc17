"""How often things happen in a synthetic population, and where each number comes from.

A synthetic population is only useful if its proportions are plausible: a demo in which
more than half the residents performed a heroic act, or a consumer file in which most
people went bankrupt, teaches the wrong lesson about what a rulebook does. Every rate
`socialcredit.lab.synth` uses is in this one table, with its source inline and a mark:

    ✔ a published figure (the rate is derived from it as shown)
    ⚠ a secondary source, or a published figure used only as an order of magnitude
    ✖ illustrative: our choice, where no source gives the number

docs/synth.md prints the table (a test keeps it current) and a test generates a large
population per shipped rulebook and checks the generated rates against these.

Rates are per subject and year, averaged over the whole population. Subjects differ:
negative records follow a heavy-tailed personal propensity (most people have none, a few
have many) and a district factor (one district's records are 1.6 times the other's, as
policing or reporting intensity differs between places); rewards follow their own,
milder propensity. Both propensities have mean 1, and the district factors average to 1,
so that the population's rate is the rate in the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

# Propensities: gamma(shape, scale) with mean shape × scale = 1.
NEGATIVE_SHAPE = 0.5  # variance 2: heavy-tailed — most have nothing, a few a great deal
POSITIVE_SHAPE = 2.0  # variance 0.5: rewards are spread more evenly
SOUTH_RATE = 1.6  # the south district's negative records per subject, relative to the north
VOID_SHARE = 0.003  # negative records withdrawn on review ✖ (one in about 300)
DEFAULT_RESOLVED = 0.5  # resolvable records later resolved, where the table says nothing ✖
DEFAULT_RESOLVE_DAYS = 60.0  # mean delay to resolution (exponential) ✖

Mark = Literal["✔", "⚠", "✖"]


@dataclass(frozen=True)
class Rate:
    """Records of one type per subject and year, population average."""

    per_year: float
    mark: Mark
    source: str
    resolved: float | None = None  # share later resolved (paid, performed, discharged)
    resolve_days: float = DEFAULT_RESOLVE_DAYS  # mean delay to the resolution
    units: tuple[int, int] | None = None  # per-unit records: value uniform in [lo, hi]


@dataclass(frozen=True)
class Fact:
    """How a fact's value is distributed, and the share of subjects who have one."""

    share: float
    draw: Literal["uniform", "normal", "beta", "poisson", "choice", "top"]
    params: tuple[float, ...] = ()
    choices: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None
    digits: int = 0
    mark: Mark = "✖"
    source: str = "illustrative"

    def sample(self, rng: np.random.Generator, m: int) -> npt.NDArray[np.object_]:
        if self.draw == "choice":
            p = np.array(self.params) / sum(self.params)
            return np.array(self.choices, dtype=object)[rng.choice(len(self.choices), m, p=p)]
        if self.draw == "uniform":
            x = rng.uniform(self.params[0], self.params[1], m)
        elif self.draw == "normal":
            x = rng.normal(self.params[0], self.params[1], m)
        elif self.draw == "beta":
            x = rng.beta(self.params[0], self.params[1], m) * self.params[2]
        elif self.draw == "poisson":
            x = rng.poisson(self.params[0], m).astype(float)
        else:  # "top": a share near its maximum, falling off exponentially
            x = self.params[0] - rng.exponential(self.params[1], m)
        x = np.clip(x, self.lo if self.lo is not None else -np.inf,
                    self.hi if self.hi is not None else np.inf)
        return np.round(x, self.digits).astype(str).astype(object)


# Shared sources, cited once and referred to below.
DEFAULTERS = ("≈1 % of adults listed at a time: 14.5 million listed by July 2019 (Supreme "
              "People's Court figures, docs/rulebooks/judgment-defaulters.md) against ≈1.1 "
              "billion adults (1.40 billion people in 2019, National Bureau of Statistics, "
              "about four in five aged 18 or over ⚠); the rate is the inflow that keeps "
              "1.0 % listed with these resolutions and a 2-year maximum")
DEFAULTERS_RESOLVED = ("27 % resolved: 3.22 million defaulters had complied of 12.11 million "
                       "posted violations by September 2018 (SPC report to the NPC Standing "
                       "Committee, China Daily, 24 Oct 2018) ⚠; delay ✖")
BANKRUPTCY = ("753,764 non-business bankruptcy petitions in 2019 (US Courts, Judicial "
              "Business 2019) against ≈255 million US adults (Census Bureau estimate ⚠): "
              "0.30 % a year")
ARREARS = ("'a few percent a month': about 3 % of US household debt was in some stage of "
           "delinquency in Q3 2023 (New York Fed, Household Debt and Credit Report "
           "2023:Q3) — an order of magnitude, used as 2 % of persons with a missed cycle a "
           "month")

RATES: dict[str, Rate] = {
    # -- courts (judgment-defaulters, corporate, rongcheng) --------------------------------
    "court.refuses_to_perform": Rate(0.0063, "⚠", f"{DEFAULTERS}; {DEFAULTERS_RESOLVED}",
                                     resolved=0.27,
                                     resolve_days=180.0),
    "court.breach_judgment": Rate(0.005, "✖", "illustrative"),
    "court.unpaid_debt": Rate(0.004, "✖", "illustrative", resolved=0.4, resolve_days=120.0),
    "court.utility_arrears": Rate(0.002, "✖", "illustrative", resolved=0.5),
    # -- finance and commerce (rongcheng) ---------------------------------------------------
    "finance.bank_arrears": Rate(0.24, "⚠", ARREARS, resolved=0.6, resolve_days=30.0),
    "finance.private_lending_breach": Rate(0.003, "✖", "illustrative", resolved=0.4),
    "finance.guarantee_breach": Rate(0.002, "✖", "illustrative", resolved=0.4),
    "finance.illegal_fundraising_investigation": Rate(0.0002, "✖", "illustrative"),
    "contract.non_performance": Rate(0.01, "✖", "illustrative", resolved=0.5),
    "commerce.fraud": Rate(0.0005, "✖", "illustrative"),
    "commerce.fake_goods": Rate(0.001, "✖", "illustrative"),
    # -- public services and order (rongcheng) ----------------------------------------------
    "utility.late_fees": Rate(0.1, "✖", "a late fee every ten years on average",
                              resolved=0.8, resolve_days=20.0),
    "utility.illegal_heating_tap": Rate(0.001, "✖", "illustrative"),
    "utility.theft": Rate(0.0005, "✖", "illustrative"),
    "utility.equipment_destruction": Rate(0.0002, "✖", "illustrative"),
    "traffic.ticket": Rate(0.2, "✖", "common: a ticket per adult every five years; about "
                           "half of China's adults hold a licence (530 million drivers, "
                           "Ministry of Public Security, China Daily 13 Jun 2024 ⚠)"),
    "civic.heroic_act": Rate(0.0005, "✖", "rare by definition: 0.05 % of persons a year, "
                             "well under the 0.1 % a recognised act could plausibly reach"),
    "civic.volunteer_hours": Rate(0.5, "✖", "one registered activity every two years, 1–8 "
                                  "hours", units=(1, 8)),
    # -- Sesame-like and Tencent-like consumer scores ---------------------------------------
    "sesame.instalment_repaid": Rate(3.0, "✖", "illustrative"),
    "sesame.instalment_overdue": Rate(0.05, "✖", "illustrative", resolved=0.7,
                                      resolve_days=45.0),
    "sesame.rental_unreturned": Rate(0.005, "✖", "illustrative", resolved=0.6),
    "sesame.bill_paid_on_time": Rate(6.0, "✖", "illustrative"),
    "sesame.bill_overdue": Rate(0.2, "✖", "illustrative", resolved=0.9, resolve_days=15.0),
    "tencent.loan_repaid": Rate(2.0, "✖", "illustrative"),
    "tencent.loan_overdue": Rate(0.04, "✖", "illustrative", resolved=0.7, resolve_days=45.0),
    "tencent.rental_unreturned": Rate(0.005, "✖", "illustrative", resolved=0.6),
    "tencent.bill_paid_on_time": Rate(6.0, "✖", "illustrative"),
    "tencent.account_fraud_confirmed": Rate(0.0005, "✖", "illustrative"),
    # -- corporate (per organization) -------------------------------------------------------
    "tax.late_filing": Rate(0.05, "✖", "illustrative", resolved=0.8, resolve_days=30.0),
    "tax.late_payment": Rate(0.03, "✖", "illustrative", resolved=0.8, resolve_days=30.0),
    "tax.major_violation": Rate(0.002, "✖", "illustrative", resolved=0.5, resolve_days=180.0),
    "market.abnormal_operation": Rate(0.04, "✖", "illustrative", resolved=0.5,
                                      resolve_days=90.0),
    "market.serious_violation": Rate(0.001, "✖", "illustrative", resolved=0.3,
                                     resolve_days=180.0),
    "market.contract_honouring_award": Rate(0.01, "✖", "illustrative"),
    "environment.emission_violation": Rate(0.01, "✖", "illustrative", resolved=0.6),
    # -- platform ---------------------------------------------------------------------------
    "ride.safety_incident": Rate(0.002, "✖", "illustrative"),
    "ride.fee_unpaid": Rate(0.05, "✖", "illustrative", resolved=0.7, resolve_days=20.0),
    "venue.incident_report": Rate(0.002, "✖", "illustrative"),
    # -- FICO-like --------------------------------------------------------------------------
    "credit.bankruptcy": Rate(0.003, "✔", BANKRUPTCY, resolved=0.7, resolve_days=120.0),
}

# The media-reported rulebook: behaviours as reported, at illustrative rates (the engine
# refuses the rulebook; the policy lab may still study it).
_REPORTED: dict[str, float] = {
    "charity.donation": 0.3, "health.blood_donation": 0.01, "purchase.diapers": 1.0,
    "bills.paid_on_time": 6.0, "storefront.upkeep": 0.05, "pet.proper_care": 0.1,
    "speech.praise_government": 0.1, "charity.helping_poor": 0.05,
    "traffic.jaywalking": 0.2, "public.smoking_prohibited_area": 0.05,
    "bills.missed_payment": 0.2, "waste.improper_sorting": 0.2,
    "public.blocking_passageway": 0.02, "assembly.rally_attendance": 0.01,
    "purchase.alcohol": 2.0, "leisure.video_games_extended": 0.5,
    "family.elderly_relatives_not_visited": 0.1, "speech.anti_government_post": 0.02,
    "connections.friend_political_post": 0.05,
}
RATES.update({k: Rate(v, "✖", "illustrative (media-reported behaviour)")
              for k, v in _REPORTED.items()})

# Types no table entry names (a user's own rulebook): by sign and declared severity ✖.
DEFAULT_NEGATIVE = {"minor": 0.1, "general": 0.02, "serious": 0.005, None: 0.02}
DEFAULT_POSITIVE = 0.1
DEFAULT_OTHER = 0.01

FACTS: dict[str, Fact] = {
    "fact.credit_history_months": Fact(0.6, "uniform", (0, 240), lo=0),
    "fact.sesame.account_age_months": Fact(0.9, "uniform", (0, 120), lo=0),
    "fact.sesame.avg_balance_band": Fact(0.9, "choice", (30, 25, 20, 15, 10),
                                         ("1", "2", "3", "4", "5")),
    "fact.sesame.identity_verified": Fact(0.95, "choice", (85, 15), ("verified",
                                                                      "unverified")),
    "fact.sesame.on_time_share_12m": Fact(0.9, "top", (100, 4), lo=0, hi=100),
    "fact.tencent.identity_verified": Fact(0.95, "choice", (85, 15), ("verified",
                                                                       "unverified")),
    "fact.tencent.account_protection": Fact(0.9, "choice", (60, 30, 10),
                                            ("full", "basic", "none")),
    "fact.tencent.account_age_months": Fact(0.9, "uniform", (0, 150), lo=0),
    "fact.tencent.assets_band": Fact(0.8, "choice", (35, 25, 20, 12, 8),
                                     ("1", "2", "3", "4", "5")),
    "fact.tencent.on_time_share_12m": Fact(0.9, "top", (100, 4), lo=0, hi=100),
    "fact.corp.revenue_status": Fact(1.0, "choice", (85, 10, 5),
                                     ("rated", "new", "no_revenue")),
    "fact.ride.rating_avg": Fact(0.9, "normal", (4.75, 0.2), lo=1, hi=5, digits=2),
    "fact.credit.pct_never_late": Fact(0.95, "top", (100, 5), lo=0, hi=100),
    "fact.credit.months_since_delinquency": Fact(0.4, "uniform", (0, 120), lo=0),
    "fact.credit.utilization_pct": Fact(0.9, "beta", (1.2, 3.0, 100), lo=0, hi=100),
    "fact.credit.oldest_account_months": Fact(0.95, "uniform", (6, 360)),
    "fact.credit.account_types": Fact(0.95, "choice", (15, 30, 30, 15, 10),
                                      ("1", "2", "3", "4", "5")),
    "fact.credit.inquiries_12m": Fact(0.95, "poisson", (1.0,)),
}
DEFAULT_FACT_SHARE = 0.8


def district_factors(south_rate: float = SOUTH_RATE) -> tuple[float, float]:
    """(north, south) multipliers with ratio `south_rate` and mean 1 over the two equal
    districts, so that the population's rate stays the table's."""
    north = 2.0 / (1.0 + south_rate)
    return north, north * south_rate


def rate_for(type_id: str, *, negative: bool, positive: bool,
             severity: str | None) -> Rate:
    """The table's rate, or the documented default for a type it does not name."""
    found = RATES.get(type_id)
    if found is not None:
        return found
    if negative:
        return Rate(DEFAULT_NEGATIVE.get(severity, DEFAULT_NEGATIVE[None]), "✖",
                    f"default for {severity or 'undeclared'} negative records")
    if positive:
        return Rate(DEFAULT_POSITIVE, "✖", "default for rewards")
    return Rate(DEFAULT_OTHER, "✖", "default")


def rates_markdown() -> str:
    """The table docs/synth.md prints (a test keeps the page current)."""
    rows = ["| record type | per subject-year | resolved | source |", "|---|---|---|---|"]
    for tid, r in RATES.items():
        res = (f"{r.resolved:.0%} after ~{r.resolve_days:.0f} d" if r.resolved is not None
               else "—")
        per = f"{r.per_year:g}" + (f" ({r.units[0]}–{r.units[1]} units)" if r.units else "")
        rows.append(f"| `{tid}` | {per} | {res} | {r.mark} {r.source} |")
    return "\n".join(rows) + "\n"


def facts_markdown() -> str:
    rows = ["| fact | share with a value | value |", "|---|---|---|"]
    for tid, f in FACTS.items():
        if f.draw == "choice":
            total = sum(f.params)
            value = ", ".join(f"{c} {p / total:.0%}" for c, p in zip(f.choices, f.params,
                                                                   strict=True))
        elif f.draw == "uniform":
            value = f"uniform {f.params[0]:g}–{f.params[1]:g}"
        elif f.draw == "normal":
            value = f"normal, mean {f.params[0]:g}, sd {f.params[1]:g}"
        elif f.draw == "beta":
            value = f"beta({f.params[0]:g}, {f.params[1]:g}) × {f.params[2]:g}"
        elif f.draw == "poisson":
            value = f"Poisson, mean {f.params[0]:g}"
        else:
            value = f"{f.params[0]:g} minus an exponential of mean {f.params[1]:g}"
        # bounds matter only where the draw could leave the range
        bounds = [f"clipped to [{f.lo:g}, {f.hi:g}]"] if (
            f.draw in ("normal", "top", "beta") and f.lo is not None and f.hi is not None
        ) else []
        rows.append(f"| `{tid}` | {f.share:.0%} | {', '.join([value, *bounds])} "
                    f"{f.mark} |")
    return "\n".join(rows) + "\n"
