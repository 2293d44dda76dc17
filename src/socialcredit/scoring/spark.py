"""The cluster engine: a rulebook compiled into one PySpark job over a Parquet ledger.

Same contract as the reference engine (docs/semantics.md, "Standing" and "Lists"); the clauses map
onto DataFrame operations one to one, so this module reads like reference.py:

* clause 1: records join their subject's kind; the program's ``subjects`` filter it;
* clause 2: ``recorded_at <= k`` (pushed into the Parquet scan) and ``occurred_at <= t``;
* clause 3: a left-anti join with the voids known at k, on (subject, record_id);
* clause 4 and decay: ``age < expires`` and ``points * 0.5 ** (age / half_life)``;
* resolutions: the first resolution per (subject, ref) known at k, occurred <= t;
* max_count: ``row_number()`` over (subject, rule) ordered by occurred_at, record_id
  descending (Spark compares strings as UTF-8 bytes, i.e. code-point order);
* attributes: ``row_number()`` over subject ordered by (occurred_at, recorded_at,
  record_id) descending, then the bins as one CASE in order;
* dimension and scale clamps, tiers, record lists and score lists (a second scoring
  pass at t − notice, as reference._score_list defines them).

Input is the layout ``socialcredit export`` writes (records/ and subjects/ bucketed by
subject hash, programs/ with the canonical rulebooks). The rulebook is chosen on the
driver (the version in force at (t, k)); only plain columns travel to the executors,
no Python UDFs, so the job runs at JVM speed.

Run it with ``socialcredit score --all --engine spark`` (local) or ``spark-submit`` on
a cluster: ``python -m socialcredit.scoring.spark --help``; see docs/cluster.md.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from functools import reduce
from pathlib import Path
from typing import Any

from socialcredit.ledger.model import ProgramVersion
from socialcredit.ledger.versions import choose_program, pick_version, program_names
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.batch import (
    Mitior,
    compile_mitior,
    dimension_column,
    float_or_none,
    relevant_types,
)
from socialcredit.timeutil import US_PER_DAY, days_to_us, now_us, parse_instant

DataFrame = Any  # pyspark.sql.DataFrame (pyspark is an optional dependency)
SparkSession = Any


def _F() -> Any:
    from pyspark.sql import functions

    return functions


def load_ledger(spark: SparkSession, root: str | Path, rb: Rulebook, k: int,
                by_knowledge: bool = False) -> tuple[DataFrame, DataFrame]:
    """(records known at k that a standing under rb can read, subjects), from Parquet.
    With by_knowledge, "known at k" is what this ledger knew by k (a backfilled record
    from when it was backfilled): what notice runs from."""
    F = _F()
    base = str(root).rstrip("/")
    raw = spark.read.parquet(f"{base}/records")
    if "ingested_at" not in raw.columns:  # an export from before the column existed
        raw = raw.withColumn("ingested_at", F.lit(None).cast("long"))
    recs = (raw.select("record_id", "subject", "type", "kind", "occurred_at", "recorded_at",
                       "value_num", "value_text", "ref", "ingested_at")
            .withColumn("known_at", F.greatest(F.col("recorded_at"), F.coalesce(
                F.col("ingested_at"), F.col("recorded_at"))))
            .where((F.col("known_at" if by_knowledge else "recorded_at") <= F.lit(k)) & (
                F.col("kind").isin("void", "resolution")
                | F.col("type").isin(relevant_types(rb) or ["\x00"]))))
    subs = spark.read.parquet(f"{base}/subjects").select("subject", "kind")
    return recs, subs


def _version_index(mitior: Mitior) -> Any:
    """Per record: the index of the version in force when it occurred (−1: none), as
    Mitior.version_of computes it."""
    F = _F()
    expr = F.lit(-1)
    for eff in mitior.effective.tolist():
        expr = expr + F.when(F.col("occurred_at") >= F.lit(int(eff)), 1).otherwise(0)
    return expr


def _nan_none(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else float(x)


def _live(rb: Rulebook, recs: DataFrame, subs: DataFrame) -> DataFrame:
    """Records of subjects the program applies to (clause 1), minus voided (clause 3)."""
    F = _F()
    applying = subs.where(F.col("kind").isin(*rb.subjects)).select("subject")
    mine = recs.join(applying, "subject", "inner")
    voids = (mine.where((F.col("kind") == "void") & F.col("ref").isNotNull())
             .select("subject", F.col("ref").alias("record_id")).distinct())
    return mine.join(voids, ["subject", "record_id"], "left_anti")


def _scores(spark: SparkSession, rb: Rulebook, live: DataFrame, subs: DataFrame, t: int,
            mitior: Mitior | None = None) -> tuple[DataFrame, DataFrame]:
    """(subject, subject_kind, dim_…, score) for every subject at t, and the counting
    candidates (for record lists)."""
    from pyspark.sql import Window

    F = _F()
    res = (live.where((F.col("kind") == "resolution") & F.col("ref").isNotNull()
                      & (F.col("occurred_at") <= F.lit(t)))
           .groupBy("subject", F.col("ref").alias("record_id"))
           .agg(F.min("occurred_at").alias("res_occ")))
    cand = (live.where(~F.col("kind").isin("void", "resolution")
                       & (F.col("occurred_at") <= F.lit(t)))
            .join(res, ["subject", "record_id"], "left")
            .withColumn("age", (F.lit(t) - F.col("occurred_at")).cast("double")
                        / F.lit(float(US_PER_DAY))))
    dims = [d.id for d in rb.dimensions]
    parts: list[DataFrame] = []
    if rb.rules:
        rules = spark.createDataFrame(
            [(i, r.record, dims.index(r.dimension), float(r.points or 0.0),
              r.points_per_unit is not None, float(r.points_per_unit or 0.0), r.half_life,
              r.expires, r.max_count, r.resolved_points) for i, r in enumerate(rb.rules)],
            "rule int, type string, dim int, points double, per_unit boolean, ppu double, "
            "hl double, expires double, max_count int, rp double")
        x = cand.join(F.broadcast(rules), "type", "inner").where(
            F.col("expires").isNull() | (F.col("age") < F.col("expires")))
        w = Window.partitionBy("subject", "rule").orderBy(F.col("occurred_at").desc(),
                                                          F.col("record_id").desc())
        x = x.withColumn("rn", F.row_number().over(w)).where(
            F.col("max_count").isNull() | (F.col("rn") <= F.col("max_count")))
        def contribution(pre: str) -> Any:
            pts = F.when(F.col(f"{pre}per_unit"),
                         F.col(f"{pre}ppu") * F.coalesce(F.col("value_num"), F.lit(0.0))
                         ).otherwise(F.col(f"{pre}points"))
            pts = F.when(F.col("res_occ").isNotNull() & F.col(f"{pre}rp").isNotNull(),
                         F.col(f"{pre}rp")).otherwise(pts)
            return F.when(F.col(f"{pre}hl").isNotNull(),
                          pts * F.pow(F.lit(0.5), F.col("age") / F.col(f"{pre}hl"))
                          ).otherwise(pts)

        contrib = contribution("")
        if mitior is not None:
            # lex mitior: the counterpart rule of the version in force when it occurred,
            # unless rb's is milder (Mitior; reference.counterpart)
            n_v, n_r = mitior.has.shape
            old_rules = spark.createDataFrame(
                [(v, i, bool(mitior.same[v]), bool(mitior.has[v, i]),
                  float(mitior.points[v, i]), bool(mitior.per_unit[v, i]),
                  float(mitior.ppu[v, i]), _nan_none(mitior.half_life[v, i]),
                  _nan_none(mitior.expires[v, i]), _nan_none(mitior.resolved_points[v, i]))
                 for v in range(n_v) for i in range(n_r)],
                "o_v int, rule int, o_same boolean, o_has boolean, o_points double, "
                "o_per_unit boolean, o_ppu double, o_hl double, o_expires double, "
                "o_rp double")
            x = (x.withColumn("o_v", _version_index(mitior))
                 .join(F.broadcast(old_rules), ["o_v", "rule"], "left"))
            old = F.when(F.col("o_has") & (F.col("o_expires").isNull()
                                           | (F.col("age") < F.col("o_expires"))),
                         contribution("o_")).otherwise(F.lit(0.0))
            contrib = F.when(F.coalesce(F.col("o_same"), F.lit(False)), contrib).otherwise(
                F.greatest(contrib, old))
        parts.append(x.select("subject", "dim", contrib.alias("c")))
    for a in rb.attributes:
        f = cand.where(F.col("type") == a.record)
        if a.expires is not None:
            f = f.where(F.col("age") < F.lit(float(a.expires)))
        w = Window.partitionBy("subject").orderBy(F.col("occurred_at").desc(),
                                                  F.col("recorded_at").desc(),
                                                  F.col("record_id").desc())
        f = f.withColumn("rn", F.row_number().over(w)).where(F.col("rn") == 1)
        num = F.col("value_num")
        text_num = F.expr("try_cast(value_text as double)")
        is_text = num.isNull() & F.col("value_text").isNotNull()
        expr = None
        for b in reversed(a.bins):
            if b.below is not None:
                cond = num.isNotNull() & (num < F.lit(float(b.below)))
            elif b.values is not None:
                nums = [float(v) for v in b.values if not isinstance(v, str)]
                strs = [v for v in b.values if isinstance(v, str)]
                parsed = [f for f in (float_or_none(v) for v in strs) if f is not None]
                cond = num.isNotNull() & num.isin(*(nums + parsed)) if nums + parsed \
                    else F.lit(False)
                if strs:
                    cond = cond | (is_text & F.col("value_text").isin(*strs))
                if nums:
                    cond = cond | (is_text & text_num.isin(*nums))
            else:
                cond = F.lit(True)
            expr = F.when(cond, F.lit(float(b.points))).otherwise(
                F.lit(float(a.missing)) if expr is None else expr)
        val = F.lit(float(a.missing)) if expr is None else expr
        # subjects without a fact get `missing` below; here the delta over missing
        parts.append(f.select("subject", F.lit(dims.index(a.dimension)).alias("dim"),
                              (val - F.lit(float(a.missing))).alias("c")))
    base_missing = [sum(a.missing for a in rb.attributes if a.dimension == d) for d in dims]
    out = subs.select("subject", F.col("kind").alias("subject_kind"))
    if parts and dims:
        allc = reduce(lambda p, q: p.unionByName(q), parts)
        sums = allc.groupBy("subject").agg(*[
            F.sum(F.when(F.col("dim") == j, F.col("c"))).alias(f"_s{j}")
            for j in range(len(dims))])
        out = out.join(sums, "subject", "left")
    else:
        for j in range(len(dims)):
            out = out.withColumn(f"_s{j}", F.lit(None).cast("double"))
    total = F.lit(float(rb.scale.base))
    for j, d in enumerate(rb.dimensions):
        v = F.coalesce(F.col(f"_s{j}"), F.lit(0.0)) + F.lit(float(base_missing[j]))
        if d.min is not None:
            v = F.greatest(v, F.lit(float(d.min)))
        if d.max is not None:
            v = F.least(v, F.lit(float(d.max)))
        out = out.withColumn(dimension_column(d.id), v)
        total = total + F.col(dimension_column(d.id))
    if rb.scale.min is not None:
        total = F.greatest(total, F.lit(float(rb.scale.min)))
    if rb.scale.max is not None:
        total = F.least(total, F.lit(float(rb.scale.max)))
    out = out.withColumn("score", total.cast("double"))
    return out.select("subject", "subject_kind", "score",
                      *[dimension_column(d.id) for d in rb.dimensions]), cand


def _interval(notice: Any, max_days: Any) -> tuple[Any, Any]:
    """(start, cap) of ListDef.interval as columns (notice and max_days in days; a null
    max_days: no cap)."""
    F = _F()
    n_us = (notice * F.lit(float(US_PER_DAY))).cast("long")
    start = F.greatest(F.col("occurred_at"), F.col("known_at")) + n_us
    anchor = F.greatest(F.col("occurred_at"), F.col("recorded_at")) + n_us
    cap = F.when(max_days.isNotNull(),
                 anchor + (max_days * F.lit(float(US_PER_DAY))).cast("long"))
    return start, cap


def standings_frame(spark: SparkSession, root: str | Path, rb: Rulebook, t: int, k: int,
                    history: Sequence[ProgramVersion] | None = None) -> DataFrame:
    """The standings DataFrame: subject, subject_kind, score, tier, dim_…, lists.
    `history` (every version of the program) turns on lex mitior."""
    F = _F()
    recs, subs = load_ledger(spark, root, rb, k)
    live = _live(rb, recs, subs)
    mitior = compile_mitior(rb, history, k)
    scores, cand = _scores(spark, rb, live, subs, t, mitior)
    applies = F.col("subject_kind").isin(*rb.subjects)
    conds = []
    for li, x in enumerate(rb.lists):
        flag = f"_l{li}"
        if x.enter_when.record is not None:
            start, cap = _interval(F.lit(float(x.notice)), F.lit(
                float(x.max_duration) if x.max_duration is not None else None).cast("double"))
            rows = cand.where(F.col("type") == x.enter_when.record)
            if mitior is not None:
                olds = spark.createDataFrame(
                    [(v, bool(mitior.same[v]), bool(mitior.list_has[v, li]),
                      float(mitior.list_notice[v, li]), _nan_none(mitior.list_max[v, li]))
                     for v in range(len(mitior.effective))],
                    "o_v int, l_same boolean, l_has boolean, l_notice double, l_max double")
                rows = (rows.withColumn("o_v", _version_index(mitior))
                        .join(F.broadcast(olds), "o_v", "left"))
                s2, c2 = _interval(F.col("l_notice"), F.col("l_max"))
                same = F.coalesce(F.col("l_same"), F.lit(False))
                start = F.when(same, start).otherwise(F.greatest(start, s2))
                cap = F.when(same, cap).otherwise(F.least(cap, c2))
                rows = rows.where(same | F.coalesce(F.col("l_has"), F.lit(False)))
            end = F.least(cap, F.col("res_occ"))
            on = (rows.where((start <= F.lit(t)) & (end.isNull() | (F.lit(t) < end)))
                  .select("subject").distinct().withColumn(flag, F.lit(True)))
            scores = scores.join(on, "subject", "left")
            cond = F.coalesce(F.col(flag), F.lit(False)) & applies
        else:
            thr = float(x.enter_when.score_below)  # type: ignore[arg-type]
            cond = applies & (F.col("score") < F.lit(thr))
            if x.notice > 0:
                # the score at t − notice as this ledger knew it then (reference
                # _score_list): notice runs from when the system knew
                t0 = t - days_to_us(x.notice)
                k0 = min(k, t0)
                recs0, _ = load_ledger(spark, root, rb, k0, by_knowledge=True)
                before, _ = _scores(spark, rb, _live(rb, recs0, subs), subs, t0,
                                    compile_mitior(rb, history, k0))
                scores = scores.join(before.select("subject", F.col("score").alias(
                    f"_b{li}")), "subject", "left")
                cond = cond & (F.col(f"_b{li}") < F.lit(thr))
        conds.append(F.when(cond, F.lit(x.id)))
    lists = (F.filter(F.array(*conds), lambda c: c.isNotNull()) if conds
             else F.array().cast("array<string>"))
    tier = F.lit(None).cast("string")
    for tr in reversed(rb.tiers):
        tier = F.when(F.col("score") >= F.lit(float(tr.min)), F.lit(tr.id)).otherwise(tier)
    return scores.select("subject", "subject_kind", "score", tier.alias("tier"),
                         *[dimension_column(d.id) for d in rb.dimensions],
                         lists.alias("lists"))


def program_versions(spark: SparkSession, root: str | Path) -> list[ProgramVersion]:
    """The published versions, read through Spark so any Hadoop path works."""
    rows = spark.read.parquet(f"{str(root).rstrip('/')}/programs").collect()
    return [ProgramVersion(r["program"], r["version"], r["effective_at"], r["published_at"],
                           r["sha256"], Rulebook.model_validate(json.loads(r["canonical"])),
                           r["seq"]) for r in rows]


def score_with_spark(spark: SparkSession, root: str | Path, dest: str | Path,
                     program: str | None, t: int, k: int) -> int:
    """Run the job and write the standings as Parquet to `dest` (a directory)."""
    versions = program_versions(spark, root)
    name = choose_program(program_names(versions), program)
    rb = pick_version(versions, name, t, k).rulebook
    df = standings_frame(spark, root, rb, t, k,
                         [pv for pv in versions if pv.program == name]).cache()
    df.write.mode("overwrite").parquet(str(dest))
    n = int(df.count())
    df.unpersist()
    return n


def make_session(master: str | None = None, app: str = "socialcredit-score",
                 shuffle_partitions: int | None = None) -> SparkSession:
    """A session; on spark-submit the master and resources come from the submit line."""
    from pyspark.sql import SparkSession as Session

    b = Session.builder.appName(app).config("spark.sql.session.timeZone", "UTC")
    if master is not None:
        b = b.master(master)
    if shuffle_partitions is not None:
        b = b.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    return b.getOrCreate()


def run_spark_job(root: str | Path, dest: str | Path, program: str | None, t: int, k: int,
                  *, master: str | None = None) -> int:
    """What ``score --all --engine spark`` runs: local[*] unless told otherwise."""
    from pyspark.sql import SparkSession as Session

    active = Session.getActiveSession()
    spark = active or make_session(master or "local[*]", shuffle_partitions=8)
    return score_with_spark(spark, root, dest, program, t, k)


def main(argv: list[str] | None = None) -> int:
    """spark-submit entry point: ``spark-submit -m socialcredit.scoring.spark`` cannot be
    used, so submit this file: ``spark-submit $(python -c 'import socialcredit.scoring.spark
    as m; print(m.__file__)') --ledger DIR --out DIR``."""
    p = argparse.ArgumentParser(description="Score every subject of a Parquet ledger.")
    p.add_argument("--ledger", required=True, help="Directory written by `socialcredit "
                   "export` (any Hadoop path: hdfs://, s3a://, file://).")
    p.add_argument("--out", required=True, help="Output directory for the standings.")
    p.add_argument("--program")
    p.add_argument("--at", help="Valid time t (ISO 8601); default now.")
    p.add_argument("--known-at", help="Transaction time k; default --at.")
    a = p.parse_args(argv)
    t = parse_instant(a.at) if a.at else now_us()
    k = parse_instant(a.known_at) if a.known_at else t
    spark = make_session()
    n = score_with_spark(spark, a.ledger, a.out, a.program, t, k)
    print(f"scored {n} subject(s) -> {a.out}")
    spark.stop()
    return 0


__all__ = ["load_ledger", "main", "make_session", "program_versions", "run_spark_job",
           "score_with_spark", "standings_frame"]
if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
