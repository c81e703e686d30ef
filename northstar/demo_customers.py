"""The demo's customer story: four weeks of product use, a price change that drives free customers
away, what customers say about it (NPS), the journeys they take, and the segments that matter.

`simulate_customers` sends, through the SDK, `users // 5` customers' sessions (`Opened App`, the
`Dashboard` and `Pricing` pages, `Searched`, `Exported Report`, `Upgraded`) over the four full
calendar weeks (Sunday to Saturday, UTC) before the current one: each customer is active in a
week with a chance that depends on their plan, and free customers come back far less often in
the last of them, after the price change. A third of them answer the NPS survey in the last two
weeks (with `client.survey_response`), free customers after the price change mostly as detractors.
`print_customer_story` describes the survey and the cohorts, sets the team's targets and prints
lifecycle with churn, NPS by plan with the latest verbatims, the top journeys and cohort sizes,
as the API answers them.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import msgspec

import sdk
from insights.cohorts import CohortDetail
from insights.customer_report import percent, render_cohort, render_lifecycle, render_nps, render_paths
from insights.lifecycle import LifecycleResult
from insights.paths import PathsResult
from insights.surveys import NpsResult
from northstar.admin_client import AdminClient

__all__ = ["simulate_customers", "print_customer_story", "story_weeks", "STORY_WEEKS", "SURVEY", "COHORTS"]

STORY_WEEKS = 4
"""Full calendar weeks of use before the current week; the price change opened the last of them."""
SURVEY = "nps-2026"
_WEEKLY_RETURN = {"free": (0.8, 0.35), "pro": (0.85, 0.85), "team": (0.9, 0.9)}
"""Chance a customer of each plan is active in a week: before the price change, since."""
_SAY = {"promoter": ["Love the new team plan", "Exports save me hours", "Fast and clear"],
        "detractor": ["Too expensive since the price change", "The free plan lost too much", "Moving to a cheaper tool"]}
COHORTS: list[dict[str, Any]] = [
    {"key": "power-users", "name": "Power users", "rules": [
        {"type": "behavior", "event": "Opened App", "operator": "at_least", "count": 3, "within_days": 7 * STORY_WEEKS + 7}]},
    {"key": "free-customers", "name": "Free customers", "match": "all", "rules": [
        {"type": "person", "property": "plan", "value": "free"},
        {"type": "behavior", "event": "Opened App", "within_days": 7 * STORY_WEEKS + 7}]},
    {"key": "free-gone-quiet", "name": "Free customers, quiet for 10 days", "match": "all", "rules": [
        {"type": "cohort", "key": "free-customers"},
        {"type": "behavior", "event": "Opened App", "within_days": 10, "negate": True}]},
]


def story_weeks(today: dt.date) -> list[dt.date]:
    """The Sundays starting the story's weeks, oldest first (the last one: the price change)."""
    this_week = today - dt.timedelta(days=(today.weekday() + 1) % 7)
    return [this_week - dt.timedelta(weeks=STORY_WEEKS - k) for k in range(STORY_WEEKS)]


def _moment(rng: random.Random, week: dt.date) -> dt.datetime:
    day = week + dt.timedelta(days=rng.randrange(7))
    return dt.datetime.combine(day, dt.time(8), dt.timezone.utc) + dt.timedelta(minutes=rng.randrange(10 * 60))


def simulate_customers(client: sdk.Client, users: int, seed: int, today: dt.date) -> int:
    """Send the customers' sessions and survey responses; returns how many customers there are."""
    rng = random.Random(seed + 2)
    weeks = story_weeks(today)
    customers = max(users // 5, 20)
    for number in range(customers):
        user = f"demo-customer-{number}"
        plan = rng.choices(["free", "pro", "team"], [5, 3, 2])[0]
        client.identify(user, {"plan": plan}, timestamp=dt.datetime.combine(weeks[0], dt.time(), dt.timezone.utc))
        before, since = _WEEKLY_RETURN[plan]
        for index, week in enumerate(weeks):
            if rng.random() < (since if index == len(weeks) - 1 else before):
                _session(client, rng, user, plan, _moment(rng, week))
        if rng.random() < 1 / 3:
            late = rng.random() < 0.5
            unhappy = plan == "free" and late
            score = rng.choice([2, 4, 5, 6, 7]) if unhappy else rng.choice([6, 7, 8, 9, 9, 10, 10])
            kind = "promoter" if score >= 9 else "detractor" if score <= 6 else ""
            answer = rng.choice(_SAY[kind]) if kind and rng.random() < 0.5 else None
            client.survey_response(user, SURVEY, score=score, answer=answer,
                                   question="How likely are you to recommend us to a friend?",
                                   timestamp=_moment(rng, weeks[-1] if late else weeks[-2]) + dt.timedelta(hours=3))
    return customers


def _session(client: sdk.Client, rng: random.Random, user: str, plan: str, at: dt.datetime) -> None:
    steps: list[tuple[str, str]] = [("track", "Opened App"), ("page", "Dashboard")]
    steps.append(rng.choice([("track", "Searched"), ("page", "Pricing"), ("track", "Exported Report")]))
    if steps[-1] == ("page", "Pricing") and plan == "free" and rng.random() < 0.3:
        steps.append(("track", "Upgraded"))
    for index, (kind, name) in enumerate(steps):
        when = at + dt.timedelta(minutes=2 * index, seconds=rng.randrange(60))
        if kind == "page":
            client.page(user, name, {"plan": plan}, timestamp=when)
        else:
            client.track(user, name, {"plan": plan}, timestamp=when)


def print_customer_story(api: AdminClient, today: dt.date) -> None:
    """Describe the survey and cohorts, set targets, and print the customer story from the API."""
    api.save_survey({"key": SURVEY, "question": "How likely are you to recommend us to a friend?", "kind": "nps"})
    for cohort in COHORTS:
        api.save_cohort(cohort)
    api.save_targets([{"metric": "nps", "direction": "at_least", "value": 30, "label": "NPS target 30"},
                      {"metric": "churn_rate", "direction": "at_most", "value": 0.25, "label": "churn ≤ 25%"}])
    weeks = story_weeks(today)
    days = {"date_from": weeks[0].isoformat(), "date_to": (weeks[-1] + dt.timedelta(days=6)).isoformat()}
    weekly = msgspec.convert(api.insight("lifecycle", {"event": "Opened App", "interval": "week", **days}),
                             LifecycleResult)
    print(f"Customers: lifecycle of 'Opened App' by week (the price change came on {weeks[-1]}):")
    print(render_lifecycle(weekly))
    churn = [p.churn_rate for p in weekly.points]
    print(f"Churn: {percent(churn[-2])} the week before the price change, {percent(churn[-1])} the week after "
          "(target ≤ 25%).")
    print()
    score = api.insight("nps", {"survey": SURVEY, **days, "breakdown": {"property": "plan", "type": "person"},
                                "answers_limit": 4})
    print(render_nps(msgspec.convert(score, NpsResult)))
    print()
    journeys = api.insight("paths", {**days, "start_event": "Opened App", "steps": 4, "edge_limit": 6,
                                     "exclude_events": ["Survey Responded"]})
    print("Top journeys from 'Opened App' (a session ends after 30 minutes idle):")
    print(render_paths(msgspec.convert(journeys, PathsResult)))
    print()
    for cohort in COHORTS:
        print(render_cohort(msgspec.convert(api.get_cohort(str(cohort["key"]), days=0), CohortDetail)))
