"""Checkers for notebook 02 (domain, subdomains and bounded contexts)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from labsvc.course import Feedback, exercise, is_number
from labsvc.course.predictions import judge_prediction
from labsvc.design.domain import RELATIONSHIP_KINDS, SUBDOMAIN_KINDS, BoundedContext, Relationship
from labsvc.core.errors import ConfigurationError

#: The shop's contexts the learner classifies in exercise 1.
TO_CLASSIFY = ("catalog", "order", "inventory", "delivery", "payment", "notification", "search", "customer")

#: Terms the ``returns`` context of exercise 2 must define.
RETURNS_TERMS = ("Return", "Item", "Refund", "Condition")
MIN_WORDS = 5

#: Exercise 3: integrations and the relationship kind each describes.
INTEGRATIONS: dict[str, tuple[str, str]] = {
    "carrier-tracking": (
        "Delivery shows parcel status exactly as the carrier's API returns it. The carrier will not change "
        "its model for us, and we do not translate it.", "conformist"),
    "payment-adapter": (
        "Our payment module wraps the provider's API and translates its messages into our own Payment and "
        "Refund model, so a change at the provider stays in one place.", "anticorruption-layer"),
    "catalog-prices": (
        "Order needs current prices from the catalog; the catalog team plans its API changes around what "
        "the order team asks for.", "customer-supplier"),
    "product-events": (
        "The catalog publishes documented product-changed events in an agreed format; search, and anyone "
        "else, can consume them.", "published-language"),
    "sku-library": (
        "Catalog and inventory share one small, jointly owned piece of model: the SKU code and the "
        "product-to-item mapping. Neither changes it without the other.", "shared-kernel"),
}


def _as_kind_map(answer) -> dict[str, str] | None:
    if not isinstance(answer, Mapping):
        return None
    return {str(k).strip(): str(v).strip().lower() for k, v in answer.items()}


@exercise("02.classify")
def classify(answer, contexts: pd.DataFrame) -> Feedback:
    """``answer`` is ``{context: "core" | "supporting" | "generic"}`` for :data:`TO_CLASSIFY`."""
    given = _as_kind_map(answer)
    if given is None:
        return Feedback(False, "answer with a dict {context: kind}, e.g. {'catalog': 'core', ...}",
                        ko="{컨텍스트: 종류} 형태의 dict로 답하세요. 예: {'catalog': 'core', ...}")
    truth = dict(zip(contexts["context"], contexts["subdomain_kind"]))
    missing = [c for c in TO_CLASSIFY if c not in given]
    if missing:
        return Feedback(False, f"classify every one of {list(TO_CLASSIFY)}; missing {missing}",
                        ko=f"{list(TO_CLASSIFY)}를 모두 분류하세요. 빠진 것: {missing}")
    bad_kind = {c: k for c, k in given.items() if k not in SUBDOMAIN_KINDS}
    if bad_kind:
        return Feedback(False, f"kinds are {', '.join(SUBDOMAIN_KINDS)}; got {bad_kind}",
                        ko=f"종류는 {', '.join(SUBDOMAIN_KINDS)} 중 하나입니다. 받은 값: {bad_kind}")
    wrong = [c for c in TO_CLASSIFY if given[c] != truth[c]]
    if wrong:
        return Feedback(False, f"{len(wrong)} of {len(TO_CLASSIFY)} differ from the shop's design, e.g. "
                               f"{wrong[0]!r}: ask whether it is what makes this shop win (core), needed but "
                               "ordinary here (supporting), or the same in every business (generic)",
                        ko=f"{len(TO_CLASSIFY)}개 중 {len(wrong)}개가 쇼핑몰의 설계와 다릅니다. 예를 들어 {wrong[0]!r}: 이 쇼핑몰이 경쟁에서 이기게 해 주는 것인지(core), 필요하지만 여기서는 평범한 것인지(supporting), 어느 비즈니스에서나 똑같은 것인지(generic) 따져 보세요")
    return Feedback(True, "core: catalog and order, where the shop competes; the rest supports them or "
                          "could be bought (payment, notification, customer accounts).",
                    ko="핵심(core)은 쇼핑몰이 경쟁하는 곳인 catalog와 order입니다. 나머지는 이 둘을 지원하거나, 사서 쓸 수 있는 것입니다(payment, notification, 고객 계정).")


@exercise("02.ubiquitous-language")
def ubiquitous_language(answer, glossary: pd.DataFrame | None = None) -> Feedback:
    """``answer`` is a :class:`BoundedContext` named ``returns`` (or its language as a dict)."""
    if isinstance(answer, BoundedContext):
        if answer.name != "returns":
            return Feedback(False, f"name the context 'returns', not {answer.name!r}",
                            ko=f"컨텍스트 이름은 {answer.name!r}이(가) 아니라 'returns'로 하세요")
        language = dict(answer.language)
    elif isinstance(answer, Mapping):
        language = {str(k): str(v) for k, v in answer.items()}
    else:
        return Feedback(False, "answer with BoundedContext('returns', Subdomain(...), language={term: meaning})",
                        ko="BoundedContext('returns', Subdomain(...), language={용어: 의미})로 답하세요")
    terms = {t.strip().lower(): (t, m) for t, m in language.items()}
    missing = [t for t in RETURNS_TERMS if t.lower() not in terms]
    if missing:
        return Feedback(False, f"the language must define {list(RETURNS_TERMS)}; missing {missing}",
                        ko=f"언어에는 {list(RETURNS_TERMS)}가 모두 정의되어야 합니다. 빠진 것: {missing}")
    short = [t for t in RETURNS_TERMS if len(terms[t.lower()][1].split()) < MIN_WORDS]
    if short:
        return Feedback(False, f"say what {short} mean *in this context*, in at least {MIN_WORDS} words each",
                        ko=f"{short}이(가) *이 컨텍스트에서* 무슨 뜻인지, 각각 {MIN_WORDS}단어 이상으로 설명하세요")
    if glossary is not None:
        others = {(str(t).lower(), str(m).strip().lower()) for t, m in zip(glossary["term"], glossary["meaning"])}
        copied = [t for t in RETURNS_TERMS if (t.lower(), terms[t.lower()][1].strip().lower()) in others]
        if copied:
            return Feedback(False, f"{copied}: copied from another context's glossary. What does the word mean "
                                   "for the people handling returns?",
                            ko=f"{copied}: 다른 컨텍스트의 용어집에서 그대로 가져왔습니다. 반품을 처리하는 사람들에게 이 단어는 무슨 뜻인가요?")
    return Feedback(True, "a context's own language: 'Item' here is the unit that came back, with its "
                          "condition, not the catalog's listing or the warehouse's count.",
                    ko="컨텍스트 고유의 언어입니다. 여기서 'Item'은 카탈로그의 상품 등록 정보나 창고의 재고 수량이 아니라, 상태(condition)와 함께 돌아온 물건 한 개입니다.")


@exercise("02.relationship")
def relationship(answer) -> Feedback:
    """``answer`` is ``{integration id: relationship kind}`` for every id of :data:`INTEGRATIONS`."""
    if not isinstance(answer, Mapping):
        return Feedback(False, "answer with a dict {integration id: kind}, one entry per id of INTEGRATIONS",
                        ko="{연동 id: 종류} 형태의 dict로, INTEGRATIONS의 id마다 항목 하나씩 답하세요")
    missing = [k for k in INTEGRATIONS if k not in answer]
    if missing:
        return Feedback(False, f"give a kind for every integration; missing {missing}",
                        ko=f"모든 연동에 종류를 지정하세요. 빠진 것: {missing}")
    wrong = []
    for key, (_, kind) in INTEGRATIONS.items():
        try:
            given = Relationship.normalise_kind(answer[key])
        except ConfigurationError:
            return Feedback(False, f"{answer[key]!r} is not a kind; use one of {', '.join(RELATIONSHIP_KINDS)}",
                            ko=f"{answer[key]!r}은(는) 관계 종류가 아닙니다. {', '.join(RELATIONSHIP_KINDS)} 중 하나를 쓰세요")
        if given != kind:
            wrong.append(key)
    if wrong:
        return Feedback(False, f"look again at {wrong}: who adapts to whom, who translates, who is upstream?",
                        ko=f"{wrong}을(를) 다시 보세요. 누가 누구에게 맞추는지, 누가 번역하는지, 누가 업스트림인지요?")
    return Feedback(True, "each kind says who adapts: conformist (we take their model), anticorruption "
                          "layer (we translate), customer-supplier (upstream plans for us), published "
                          "language (a documented format), shared kernel (a jointly owned piece).",
                    ko="각 종류는 누가 맞추는지를 말해 줍니다. 준수자(conformist, 상대 모델을 그대로 받아들임), 부패 방지 계층(anticorruption layer, 우리가 번역함), 고객-공급자(customer-supplier, 업스트림이 우리를 고려해 계획함), 공표된 언어(published language, 문서화된 형식), 공유 커널(shared kernel, 함께 소유하는 일부 모델).")


# -- prediction: how many orders the shared table oversells --------------------------------------

@exercise("02.predict-oversold")
def predict_oversold(answer) -> Feedback:
    """``answer``: the shared design's run of section 3 (``runs["shared"]``); the guess is the one recorded with
    ``predict("02.predict-oversold", orders=...)``."""
    try:
        summary, shelf, design = answer.summary, answer.shelf, answer.design
    except AttributeError:
        summary = shelf = design = None
    if summary is None or design != "shared":
        return Feedback(False, "pass the shared design's run of section 3: check('02.predict-oversold', "
                               "runs['shared'])",
                        ko="3절의 shared 설계 실행 결과를 넘겨주세요: check('02.predict-oversold', runs['shared'])")
    orders, accepted = int(summary["orders"]), int(summary["accepted"])
    shipped, measured = int(summary["shipped"]), int(summary["oversold"])
    gone = shelf[shelf["phantom"] > 0]
    phantom = ", ".join(f"{row.product} {int(row.phantom)}" for row in gone.itertuples(index=False)) or "none"
    why = (f"The shared table accepted {accepted} of the {orders} orders, but the shelf could pack only {shipped}: "
           f"every set sold took a kettle, a filter pack and a mug off the shelf, while the table lowered only the "
           f"set's own row, so it kept showing units that were gone ({phantom}).")
    why_ko = (f"shared 테이블은 주문 {orders}건 중 {accepted}건을 받았지만, 선반에서 포장할 수 있었던 것은 {shipped}건뿐입니다. "
              f"세트가 하나 팔릴 때마다 주전자, 필터 한 팩, 머그잔이 선반에서 빠졌는데, 테이블은 세트 자신의 행만 줄였기 "
              f"때문에 이미 없는 물건을 계속 있다고 보여 주었습니다({phantom}).")

    def right(guess, actual):
        return is_number(guess) and abs(float(guess) - actual) <= max(1.0, 0.2 * actual)

    def explain(guess, actual):
        if not is_number(guess):
            return ("The guess should be a number of orders. " + why, "예측은 주문 건수(숫자)여야 합니다. " + why_ko)
        if 0 < float(guess) < 1 <= actual:
            return ("This looks like a share; the question asks for a number of orders. " + why,
                    "비율로 적은 것 같습니다. 이 문제는 주문 건수를 묻습니다. " + why_ko)
        if float(guess) > orders:
            return (f"That is more than the {orders} orders placed. " + why,
                    f"보낸 주문 {orders}건보다 많습니다. " + why_ko)
        off = abs(float(guess) - actual)
        if off == 0:
            return f"Exactly. {why}", f"정확히 맞혔습니다. {why_ko}"
        return f"Off by {off:g} order{'' if off == 1 else 's'}. {why}", f"{off:g}건 차이입니다. {why_ko}"

    return judge_prediction("02.predict-oversold", measured, right=right, explain=explain, unit="orders")


# -- change and observe: which reads of other teams' tables to replace first ----------------------

#: The target of "02.one-team-changes": at least this many of the history's changes shipped by one team,
#: with at most MAX_MIGRATIONS readers moved from the owner's tables to its API this quarter.
ONE_TEAM_TARGET = 37
MAX_MIGRATIONS = 2


@exercise("02.one-team-changes")
def one_team_changes(answer) -> Feedback:
    """``answer``: the table ``reads_through_api(shop, through_api)`` returned."""
    needed = {"change_id", "teams", "readers", "teams_if_shared"}
    if not isinstance(answer, pd.DataFrame) or not needed <= set(answer.columns) \
            or "through_api" not in answer.attrs:
        return Feedback(False, "pass the table reads_through_api(...) returned: "
                               "check('02.one-team-changes', replayed)",
                        ko="reads_through_api(...)가 돌려준 표를 넘겨주세요: check('02.one-team-changes', replayed)")
    moved = list(answer.attrs["through_api"])
    if len(moved) > MAX_MIGRATIONS:
        return Feedback(False, f"refused: {len(moved)} migrations ({', '.join(moved)}); this quarter has room for "
                               f"at most {MAX_MIGRATIONS}. Pick the readers whose direct reads cost the most",
                        ko=f"인정할 수 없습니다. 전환이 {len(moved)}건({', '.join(moved)})인데, 이번 분기에는 최대 "
                           f"{MAX_MIGRATIONS}건만 할 수 있습니다. 직접 읽기의 비용이 가장 큰 쪽을 고르세요")
    total = len(answer)
    alone = int((answer["teams_if_shared"] == 1).sum())
    left = sorted({r for readers in answer["readers"] for r in readers})
    done = ", ".join(moved) if moved else "none yet"
    done_ko = ", ".join(moved) if moved else "아직 없음"
    if alone < ONE_TEAM_TARGET:
        return Feedback(False, f"{alone} of the {total} changes need one team only (moved to the API: {done}); the "
                               f"target is {ONE_TEAM_TARGET}, {ONE_TEAM_TARGET - alone} short. A reader costs a "
                               f"second team only on changes its owner would otherwise ship alone: count those per "
                               f"reader in section 6's table",
                        ko=f"변경 {total}건 중 한 팀이 혼자 처리하는 것은 {alone}건입니다(API로 옮긴 쪽: {done_ko}). 목표는 "
                           f"{ONE_TEAM_TARGET}건이므로 {ONE_TEAM_TARGET - alone}건 모자랍니다. 읽는 쪽은 소유 팀이 "
                           f"원래 혼자 처리할 변경에서만 두 번째 팀이 됩니다. 6절의 표에서 읽는 쪽마다 그런 변경을 세어 "
                           f"보세요")
    rest = (f"; {', '.join(left)} still read(s) another team's tables, the next migration" if left else "")
    rest_ko = (f". {', '.join(left)}은(는) 아직 다른 팀의 테이블을 읽고 있으니, 다음 전환 대상입니다" if left else "")
    return Feedback(True, f"{alone} of the {total} changes need one team only with {done} calling the owners' APIs"
                          f"{rest}. A read that sits on the owner's busiest tables costs more second teams than "
                          f"one that a change rarely touches.",
                    ko=f"{done}이(가) 소유 팀의 API를 호출하자 변경 {total}건 중 {alone}건을 한 팀이 혼자 처리합니다"
                       f"{rest_ko}. 소유 팀이 자주 바꾸는 테이블을 읽는 쪽일수록 두 번째 팀을 더 많이 끌어들입니다.")
