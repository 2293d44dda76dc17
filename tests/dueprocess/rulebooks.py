"""Rulebooks the due-process tests share."""

from __future__ import annotations

# A city's blacklist triggered by a court finding (the court did not itself order the
# listing, so a timely objection suspends it), a score, and a repair period.
CITY = """
rulebook: city
version: "1"
subjects: [person, organization]
scale: {base: 1000, min: 0, max: 1200}
dimensions: [{id: law}]
record_types:
  - {id: court.finding, kind: conduct, label: Court finding of refusal to perform,
     category: court_judgment, context: judicial, providers: [court], evidence: required,
     severity: serious, legal_basis: "Civil Procedure Law Art. 262", item: judicial,
     resolved_by: [court.paid]}
  - {id: late.fee, kind: conduct, label: Late public-service fee, category: financial_obligation,
     context: finance, providers: [utility], evidence: required, severity: general,
     legal_basis: "Service contract", item: utilities}
  - {id: court.paid, kind: resolution, label: Judgment performed, category: court_judgment,
     context: judicial, providers: [court], evidence: required, item: judicial}
  - {id: review.void, kind: void, label: Withdrawn after review, category: due_process,
     context: review, providers: [reviewer], evidence: required, item: review}
rules:
  - {record: court.finding, dimension: law, points: -100, expires: 2y}
  - {record: late.fee, dimension: law, points: -20, expires: 1y}
tiers:
  - {id: A, min: 950}
  - {id: B, min: 0}
lists:
  - id: city_defaulters
    label: City list of judgment defaulters
    kind: black
    public: true
    enter_when: {record: court.finding}
    notice: 10d
    max_duration: 2y
    legal_basis: "City credit regulation Art. 12"
consequences:
  - {action: rail.ticket, context: transport, effect: deny, provider: railway,
     when: {on_list: city_defaulters}, label: No train tickets while listed, measure: ban}
  - {action: bike.deposit, context: commerce, effect: benefit, grant: {deposit_waived: true},
     provider: bike_shop, when: {tier_at_least: A}, label: Deposit-free bikes at tier A,
     measure: perk}
catalogue: {id: test-catalogue, version: "t1"}
due_process:
  review_deadline: 30d
  repair:
    periods:
      - {severity: serious, after: 90d, conditions: [obligation_performed, commitment]}
"""

CSV_HEAD = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
