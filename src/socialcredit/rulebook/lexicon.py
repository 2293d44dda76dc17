"""The protected-category lexicon: the second line behind the catalogue's allowlist.

A catalogue says what may be recorded; this lexicon catches what must never be, however
it is labelled. It is matched against the ids, labels, descriptions and categories of
record types, lists and consequences, and of catalogue items and measures, in English
(whole words and adjacent word pairs, so `religious_practice`, `Mosque attendance` and
`religion.mosque_visits` all match) and in Chinese (substrings: Chinese is written
without spaces). The categories are GDPR Art. 9's special categories, the project's own
lines (political expression, assembly and protest, petitioning, family), and what the
PRC Regulation on the Administration of the Credit Reporting Industry (2013), Art. 14,
forbids credit reporting to collect: religious belief, genes, fingerprints, blood type,
diseases and medical history.

A few common phrases that only look like a protected word (`financial health`,
`good faith`, `European Union`, `credit union`) are neutralised before matching, so the
lexicon can name `health`, `faith` and `union` without refusing ordinary finance.
"""

from __future__ import annotations

import re
from itertools import pairwise

# category -> English words (or snake_case word pairs) that name it
PROTECTED: dict[str, tuple[str, ...]] = {
    "racial or ethnic origin": (
        "race", "racial", "ethnic", "ethnicity", "ethnic_origin", "ethnic_minority",
        "minority_group", "uyghur", "uighur", "tibetan", "indigenous", "skin_colour",
        "skin_color", "caste"),
    "national origin": (
        "national_origin", "nationality", "hukou", "household_registration",
        "foreign_worker", "foreigner", "foreign_national", "citizenship", "immigrant",
        "immigration_status", "migrant", "migrant_worker"),
    "political opinion or expression": (
        "political", "politics", "political_opinion", "opinion_expression", "dissent",
        "dissident", "ideology", "anti_government", "government_criticism",
        "party_membership"),
    "online speech and posts": (
        "post", "posts", "posting", "posted", "repost", "reposts", "reposting", "tweet",
        "tweets", "retweet", "weibo", "microblog", "microblogs", "blog", "blogs",
        "blogging", "blogger", "online_speech", "online_comment", "online_comments",
        "comments_online", "social_media_post", "wechat_moments", "forum_post",
        "free_speech", "speech", "censorship", "censored", "vpn"),
    "religion or belief": (
        "religion", "religions", "religious", "belief", "beliefs", "faith", "faithful",
        "worship", "worshipping", "worshipper", "worshippers", "worshiper", "worshipers",
        "believer", "believers", "congregation", "sermon", "prayer", "prayers", "praying",
        "mosque", "mosques", "church",
        "churches", "temple", "temples", "synagogue", "synagogues", "monastery",
        "pagoda", "shrine", "quran", "koran", "bible", "scripture", "ramadan", "fasting",
        "halal", "kosher", "hijab", "veil", "beard", "muslim", "christian", "buddhist",
        "taoist", "falun", "falun_gong", "clergy", "imam", "priest", "pastor",
        "religious_practice", "place_of_worship", "mass_attendance"),
    "trade-union membership": (
        "trade_union", "labour_union", "labor_union", "union_membership", "union_member",
        "union_activity", "union_activities", "union_organising", "union_organizing",
        "unionise", "unionize", "unionised", "unionized", "collective_bargaining",
        "strike", "strikes", "striking", "walkout", "labour_organising",
        "labor_organizing"),
    "assembly or protest": (
        "assembly", "protest", "protests", "protester", "protesters", "protesting",
        "rally", "rallies", "demonstration", "demonstrations", "demonstrator", "riot",
        "riots", "sit_in", "march_attendance"),
    "petitioning": (
        "petition", "petitions", "petitioner", "petitioners", "petitioning", "xinfang",
        "letters_and_visits", "letters_visits", "complaint_to_authorities",
        "collective_complaint"),
    "genetic or biometric data": (
        "genetic", "genes", "gene", "genome", "biometric", "biometrics", "dna",
        "facial", "face_recognition", "fingerprint", "fingerprints", "iris",
        "blood_type"),
    "health": (
        "health", "medical", "medicine", "disability", "disabled", "illness", "ill",
        "disease", "diseases", "diagnosis", "hospital", "hospitals", "patient",
        "patients", "pregnancy", "pregnant", "hiv", "aids_status", "mental_health",
        "psychiatric", "therapy", "blood_donation", "vaccination", "vaccinated",
        "medical_history", "sick", "sickness"),
    "sex life or sexual orientation": (
        "sex_life", "sexual", "sexual_orientation", "orientation", "homosexual", "gay",
        "lesbian", "lgbt", "lgbtq", "transgender"),
    "sex or gender": ("sex", "gender"),
    "family or marital status": (
        "family", "families", "family_status", "marital", "marital_status", "marriage",
        "married", "divorce", "divorced", "personal_status", "children", "child",
        "parent", "parents", "spouse", "spouses", "relative", "relatives",
        "elderly_relatives", "filial", "filial_piety", "kinship", "household_members"),
}

# category -> Chinese terms (matched as substrings)
PROTECTED_ZH: dict[str, tuple[str, ...]] = {
    "racial or ethnic origin": ("民族", "种族", "少数民族", "维吾尔", "维族", "藏族", "肤色"),
    "national origin": ("国籍", "户籍", "户口", "外国人", "外来务工"),
    "political opinion or expression": ("政治", "政见", "反政府", "反党", "异见", "党派"),
    "online speech and posts": ("言论", "发帖", "帖子", "微博", "评论", "转发", "朋友圈",
                                "网络言论", "博客", "翻墙"),
    "religion or belief": ("宗教", "信仰", "礼拜", "清真寺", "教堂", "寺庙", "寺院", "佛教",
                           "基督", "伊斯兰", "穆斯林", "斋月", "祷告", "祈祷", "宗教活动",
                           "法轮"),
    "trade-union membership": ("工会", "罢工", "集体谈判"),
    "assembly or protest": ("抗议", "示威", "游行", "集会", "聚集", "静坐"),
    "petitioning": ("上访", "信访", "请愿", "访民"),
    "genetic or biometric data": ("基因", "指纹", "人脸", "血型", "虹膜", "生物识别"),
    "health": ("健康", "疾病", "病史", "医疗", "病历", "残疾", "艾滋", "怀孕", "精神病",
               "献血"),
    "sex life or sexual orientation": ("性取向", "同性恋", "性生活"),
    "sex or gender": ("性别",),
    "family or marital status": ("家庭", "婚姻", "离婚", "亲属", "子女", "父母", "配偶",
                                 "孝道", "探望老人"),
}

# Word pairs that are ordinary finance or law, not a protected category.
SAFE_PHRASES = frozenset({
    "financial_health", "credit_health", "fiscal_health", "good_faith", "bad_faith",
    "european_union", "credit_union", "customs_union", "union_pay", "post_office",
    "postal_service", "post_code", "child_support", "post_dated",
})
_SPLIT = re.compile(r"[^a-z0-9]+")


def tokens(*texts: str | None) -> set[str]:
    """Whole words and adjacent word pairs (snake_case) of the texts, minus safe
    phrases: what the English lexicon is matched against."""
    out: set[str] = set()
    for text in texts:
        if not text:
            continue
        parts = [p for p in _SPLIT.split(text.lower()) if p]
        safe = [False] * len(parts)
        for i, (a, b) in enumerate(pairwise(parts)):
            if f"{a}_{b}" in SAFE_PHRASES:
                safe[i] = safe[i + 1] = True
        kept = [p for p, s in zip(parts, safe, strict=True) if not s]
        out.update(kept)
        out.update(f"{a}_{b}" for a, b in pairwise(parts)
                   if f"{a}_{b}" not in SAFE_PHRASES)
    return out


_ALL_TERMS = frozenset(term for terms in PROTECTED.values() for term in terms)
_ANY_ZH = re.compile("|".join(re.escape(term) for terms in PROTECTED_ZH.values()
                              for term in terms))


def protected_categories(*texts: str | None) -> list[str]:
    """Every protected category the texts name, in the lexicon's order."""
    found = tokens(*texts)
    joined = "\n".join(t for t in texts if t)
    # the common case, nothing protected, with one set intersection and one regex scan;
    # otherwise category by category, in order
    if found.isdisjoint(_ALL_TERMS) and _ANY_ZH.search(joined) is None:
        return []
    return [name for name in PROTECTED
            if found.intersection(PROTECTED[name])
            or any(term in joined for term in PROTECTED_ZH.get(name, ()))]


def protected_category(*texts: str | None) -> str | None:
    """The first protected category the texts name, or None."""
    cats = protected_categories(*texts)
    return cats[0] if cats else None


__all__ = ["PROTECTED", "PROTECTED_ZH", "SAFE_PHRASES", "protected_categories",
           "protected_category", "tokens"]
