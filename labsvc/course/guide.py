"""The guide as a map: its process steps, its pattern table and what replaced the tools it names.

The guide (마이크로서비스 기반 SW개발 프로세스) is a process: understand the business and
split it into subdomains, identify the services, design their APIs first,
split the data, choose the implementation elements, deploy on a platform.
:data:`STEPS` places every notebook on that process; :func:`process_map`
draws it as a Mermaid flowchart (notebook 00 shows it, and each notebook's
header names its step with :func:`step_line`).

The guide's pattern table (마이크로서비스 아키텍처 패턴) names the tools of the Spring
Cloud Netflix era. Several of them are retired: Netflix put Hystrix into
maintenance in November 2018, Ribbon had been in the same state since 2016,
and Spring Cloud's Greenwich release train (announced with its release
candidate in December 2018, released January 2019) put its Ribbon, Hystrix,
Zuul 1 and Turbine modules into maintenance mode; Spring Cloud 2020.0
(December 2020) removed them. :data:`PATTERNS` holds the guide's table row
by row with what each tool is today, what Spring Cloud and a Kubernetes-native
(CNCF) platform use instead, and where this course runs the pattern;
:func:`pattern_table` renders it, :func:`tool_note` is the sentence a pattern
notebook's header carries.

Sources: Spring Cloud Greenwich release announcement (spring.io blog,
2019-01-23); Spring Cloud 2020.0 and 2022.0 release notes (the
spring-cloud-release wiki); the Hystrix README (maintenance mode); the Spring
Cloud Sleuth reference (last minor version 3.1, moved to Micrometer Tracing);
the spring-cloud-security repository (archived, its parts moved to Spring
Security and Spring Cloud Gateway).

>>> step_of("08").number
5
>>> pattern_row("Load Balancing").guide_tool
'Ribbon'
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Step", "STEPS", "Pattern", "PATTERNS", "step_of", "step_line", "pattern_row",
           "pattern_table", "pattern_table_markdown", "process_map", "tool_note", "UnknownNotebookError"]


class UnknownNotebookError(LookupError):
    """A notebook number that the course does not have."""


@dataclass(frozen=True)
class Step:
    """One step of the guide's process, with the notebooks that teach it."""

    number: int
    en: str
    ko: str
    guide_heading: str
    notebooks: tuple[str, ...]


#: The guide's process, in order. Step 0 is the course's own start (no guide section).
STEPS: tuple[Step, ...] = (
    Step(0, "why microservices", "왜 마이크로서비스인가",
         "마이크로서비스 아키텍처 기반 개발 개요", ("00", "01")),
    Step(1, "analyse the business, split it into subdomains", "비즈니스 분석과 서브도메인 분할",
         "도메인 주도 설계", ("02", "03")),
    Step(2, "identify the services", "서비스 식별", "마이크로서비스 식별", ("04",)),
    Step(3, "design the API first", "API 우선 설계", "API 설계 관점", ("05",)),
    Step(4, "split the data", "데이터 분리", "데이터 분산을 위한 데이터베이스 패턴", ("06",)),
    Step(5, "choose the implementation elements", "구현 요소 선택", "마이크로서비스 구현 요소",
         ("07", "08", "09", "10", "11", "12")),
    Step(6, "deploy on a platform", "플랫폼에 배포", "PaaS환경에서 배포 패턴", ("13",)),
    Step(7, "the whole process on one system", "하나의 시스템에 전 과정 적용", "(가이드 전체)", ("14",)),
)

_TITLES = {
    "00": ("start here", "시작하기"), "01": ("monolith vs microservices", "모놀리스와 마이크로서비스"),
    "02": ("domain and bounded contexts", "도메인과 경계 컨텍스트"),
    "03": ("coupling, cohesion, decomposition", "결합도, 응집도, 분해"),
    "04": ("identifying microservices", "마이크로서비스 식별"), "05": ("API first", "API 우선"),
    "06": ("data per service, CQRS, sagas", "서비스별 데이터, CQRS, 사가"),
    "07": ("sync and async", "동기와 비동기"), "08": ("discovery and load balancing", "디스커버리와 로드 밸런싱"),
    "09": ("API gateway", "API 게이트웨이"), "10": ("resilience", "복원력"), "11": ("observability", "관측 가능성"),
    "12": ("configuration and security", "설정과 보안"), "13": ("deployment on a platform", "플랫폼 배포"),
    "14": ("capstone", "종합 실습"),
}


def step_of(notebook: str) -> Step:
    """The process step notebook ``notebook`` ("00".."14") teaches."""
    key = str(notebook).zfill(2)[:2]
    for step in STEPS:
        if key in step.notebooks:
            return step
    raise UnknownNotebookError(f"no notebook {notebook!r} in the course; give its two-digit number, 00 to 14")


def step_line(notebook: str, lang: str = "en") -> str:
    """The line a notebook's header carries to say where it stands on the guide's process."""
    step = step_of(notebook)
    if lang == "ko":
        return (f"**프로세스 단계:** {step.number} · {step.ko} "
                f"(00 노트북의 프로세스 지도 참고)")
    return f"**Process step:** {step.number} · {step.en} (the process map is in notebook 00)"


def process_map(lang: str = "en") -> str:
    """The guide's process as a Mermaid flowchart, each step with its notebooks (text, for a ```mermaid block).

    Two rows read left to right (steps 0-3, then 4-7), so the map fits a notebook's width.
    """
    lines = ["flowchart TD"]
    half = (len(STEPS) + 1) // 2
    for row, steps in enumerate((STEPS[:half], STEPS[half:]), 1):
        lines += [f'    subgraph row{row} [" "]', "        direction LR"]
        for step in steps:
            name = step.ko if lang == "ko" else step.en
            books = "<br/>".join(f"{nb} {_TITLES[nb][1 if lang == 'ko' else 0]}" for nb in step.notebooks)
            lines.append(f'        S{step.number}["<b>{step.number} · {name}</b><br/><i>{step.guide_heading}</i><br/>{books}"]')
        lines.append("        " + " --> ".join(f"S{step.number}" for step in steps))
        lines.append("    end")
    lines.append("    row1 --> row2")
    return "\n".join(lines)


@dataclass(frozen=True)
class Pattern:
    """One row of the guide's pattern table, with what it maps to today."""

    group: str
    pattern: str
    guide_tool: str
    status: str
    status_ko: str
    spring_today: str
    cncf_today: str
    module: str
    notebook: str


_REMOVED = ("retired: maintenance mode from Spring Cloud Greenwich (2019), removed in Spring Cloud 2020.0",
            "은퇴: Spring Cloud Greenwich(2019)부터 유지보수 모드, Spring Cloud 2020.0에서 제거")

#: The guide's table (마이크로서비스 아키텍처 패턴), row by row.
PATTERNS: tuple[Pattern, ...] = (
    Pattern("Cross cutting concerns", "Configuration Management", "Config Server",
            "maintained (Spring Cloud Config)", "유지보수 중 (Spring Cloud Config)",
            "Spring Cloud Config", "ConfigMap and Secret", "labsvc.config", "12"),
    Pattern("Cross cutting concerns", "Service Discovery", "Eureka",
            "maintained (the one module left in Spring Cloud Netflix)",
            "유지보수 중 (Spring Cloud Netflix에 남은 유일한 모듈)",
            "Spring Cloud Netflix Eureka, or Consul", "Service and DNS (EndpointSlices)",
            "labsvc.discovery", "08"),
    Pattern("Cross cutting concerns", "Load Balancing", "Ribbon", *_REMOVED,
            "Spring Cloud LoadBalancer", "kube-proxy, or a service mesh (Envoy, Linkerd)",
            "labsvc.discovery", "08"),
    Pattern("External API", "API Gateway", "Zuul", *_REMOVED,
            "Spring Cloud Gateway", "Gateway API / Ingress (Envoy-based gateways)", "labsvc.gateway", "09"),
    Pattern("Security", "Service Security", "Spring Cloud Security",
            "retired: its starters deprecated in 2020, the project archived; parts moved to "
            "Spring Security and Spring Cloud Gateway (token relay)",
            "은퇴: 2020년 스타터 폐기, 프로젝트 보관(archived); 기능은 Spring Security와 "
            "Spring Cloud Gateway(토큰 릴레이)로 이동",
            "Spring Security (OAuth2 resource server)", "mesh mTLS, SPIFFE identities, OIDC",
            "labsvc.auth", "12"),
    Pattern("Observability", "Centralized Logging", "ELK Stack (Logstash)",
            "maintained (Elastic)", "유지보수 중 (Elastic)",
            "structured logs to any collector", "Fluent Bit / Fluentd, OpenTelemetry logs",
            "labsvc.observability", "11"),
    Pattern("Observability", "Centralized Metrics", "Spectator",
            "Netflix's own library; Spring Boot measures with Micrometer since 2.0",
            "Netflix 자체 라이브러리; Spring Boot는 2.0부터 Micrometer로 측정",
            "Micrometer", "Prometheus, OpenTelemetry metrics", "labsvc.observability", "11"),
    Pattern("Observability", "Distributed Tracing", "Zipkin",
            "Zipkin maintained; its Spring side (Sleuth) ended at 3.1, moved to Micrometer Tracing",
            "Zipkin은 유지보수 중; Spring 쪽(Sleuth)은 3.1로 끝나고 Micrometer Tracing으로 이동",
            "Micrometer Tracing (to Zipkin or OpenTelemetry)", "OpenTelemetry, Jaeger",
            "labsvc.observability", "11"),
    Pattern("Reliability", "Resilience & Fault Tolerance", "Hystrix, Turbine & Ribbon", *_REMOVED,
            "Spring Cloud CircuitBreaker with Resilience4j", "mesh retries, timeouts, outlier detection",
            "labsvc.resilience", "10"),
    Pattern("Deployment Patterns", "Auto Scaling & Self Healing", "PaaS (Cloud Foundry)",
            "maintained (Cloud Foundry Foundation)", "유지보수 중 (Cloud Foundry 재단)",
            "— (the platform does it)", "Deployment, probes, HorizontalPodAutoscaler",
            "labsvc.platform", "13"),
    Pattern("Deployment Patterns", "Packaging, Deployment & Scheduling", "Spring, Spring Boot",
            "maintained", "유지보수 중", "Spring Boot", "container images, Cloud Native Buildpacks",
            "labsvc.platform.export", "13"),
    Pattern("Deployment Patterns", "Job Management", "Spring Batch",
            "maintained", "유지보수 중", "Spring Batch", "Job and CronJob", "labsvc.platform", "13"),
)


def pattern_row(pattern: str) -> Pattern:
    """The row of the guide's table for ``pattern`` (its 구분 column, e.g. "Load Balancing")."""
    for row in PATTERNS:
        if row.pattern.lower() == pattern.lower():
            return row
    known = ", ".join(r.pattern for r in PATTERNS)
    raise KeyError(f"the guide's table has no pattern {pattern!r}; its patterns are: {known}")


_COLUMNS = {
    "en": ("pattern", "the guide's tool", "its status today", "Spring Cloud today", "Kubernetes / CNCF",
           "labsvc module", "notebook"),
    "ko": ("패턴", "가이드의 도구", "현재 상태", "오늘의 Spring Cloud", "Kubernetes / CNCF",
           "labsvc 모듈", "노트북"),
}


def pattern_table(lang: str = "en") -> pd.DataFrame:
    """The guide's pattern table with today's choices, one row per pattern."""
    rows = [(r.pattern, r.guide_tool, r.status_ko if lang == "ko" else r.status, r.spring_today,
             r.cncf_today, r.module, r.notebook) for r in PATTERNS]
    return pd.DataFrame(rows, columns=list(_COLUMNS["ko" if lang == "ko" else "en"]))


def pattern_table_markdown(lang: str = "en") -> str:
    """:func:`pattern_table` as a Markdown table (notebook 00 carries it, a test keeps the two equal)."""
    table = pattern_table(lang)
    head = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    body = ["| " + " | ".join(f"`{v}`" if c == table.columns[5] else str(v) for c, v in row.items()) + " |"
            for _, row in table.iterrows()]
    return "\n".join([head, rule, *body])


def tool_note(notebook: str, lang: str = "en") -> str:
    """The sentence a pattern notebook's header carries: which rows of the guide's table it runs, and their status."""
    key = str(notebook).zfill(2)
    rows = [r for r in PATTERNS if r.notebook == key]
    if not rows:
        raise UnknownNotebookError(f"notebook {notebook!r} runs no row of the guide's pattern table")
    if lang == "ko":
        lines = [f"- *{r.pattern}*: 가이드의 도구는 {r.guide_tool}, 현재 {r.status_ko}. 오늘의 Spring Cloud: "
                 f"{r.spring_today}; Kubernetes: {r.cncf_today}." for r in rows]
        return "\n".join(["**가이드 패턴 표에서 이 노트북이 다루는 행** (표 전체는 00 노트북에 있습니다):", *lines])
    lines = [f"- *{r.pattern}*: the guide's tool is {r.guide_tool}, today {r.status}. Spring Cloud today: "
             f"{r.spring_today}; on Kubernetes: {r.cncf_today}." for r in rows]
    return "\n".join(["**The rows of the guide's pattern table this notebook runs** (the whole table is in notebook 00):",
                      *lines])
