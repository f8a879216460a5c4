"""Wait-estimate accuracy benchmark: the line's real estimator against what callers then waited.

Usage:  python bench/waits/run.py [--callers 150000] [--mornings 100] [--seed 2026]

A discrete-event simulation of the line: Poisson arrivals, exponential handle times, one
first-come-first-served line, and (in half of the runs) exponential patience. Operators s = 5,
20, 100 at occupancy rho = 0.8, 0.9, 0.95, with and without callers giving up, plus a morning
surge whose arrival rate ramps up to 1.3 times capacity for 30 minutes and back down.

Every caller who finds all operators busy hears an estimate; at that moment the benchmark asks
  (a) the product's estimator, `call_queue.estimator.estimate`, with n = callers waiting ahead,
      s operators, mean handle time from `estimator.mean_handle_time` over the last
      HANDLE_WINDOW completed calls, patience from `estimator.mean_patience` over the last
      PATIENCE_WINDOW callers who stopped waiting;
  (a') the same, the handle time averaged over LONG_HANDLE_WINDOW calls instead;
  (b) the queue-length predictor (n + 1) / (s * mu) with the true mu;
  (b') the same model with the true mu and the true patience (`estimator.expected_wait`), to
      separate the error of estimating mu and theta from the error of the model;
  (c) the mean wait of the last RUNNING_WINDOW answered callers (what most lines announce);
  (d) Twilio's AvgQueueTime: how long the callers now in the line have already waited;
and compares each with the wait the caller then had. Callers who gave up are scored with the
wait they would have had had they stayed (computed exactly: FCFS means nobody behind them could
have changed it). RASE = E[(W - W^)^2] / E[W]^2, MAE = E|W - W^| in seconds.

The runs without giving up also check the simulation against Erlang C (`call_queue.erlang`):
the share of callers who found every operator busy must be within 2 points of C(s, A), using
the busy operators each caller found (mean A) as a control variate; raw shares are reported too.

Prints tables and writes bench/waits/runs/<time>/results.json (or --output).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._results import output_file  # noqa: E402
from call_queue import erlang, estimator  # noqa: E402

HERE = Path(__file__).resolve().parent
HANDLE_SECONDS = 240.0  # true mean handle time of the simulated calls
PATIENCE_SECONDS = 600.0  # true mean patience in the runs where callers give up
HANDLE_WINDOW = 50  # completed calls the product averages for the handle time
LONG_HANDLE_WINDOW = 200  # the same estimator given a longer memory, to show what it costs
PATIENCE_WINDOW = 100  # recent callers the product uses to estimate patience
RUNNING_WINDOW = 20  # answered callers averaged by a "recent waits" announcement
WARMUP_SHARE = 0.1  # first callers of a steady run, not scored: the line starts empty
ERLANG_TOLERANCE = 0.02  # absolute, on the share of callers who had to wait
# Enough scored callers for the Erlang check's 20 batch means of at least a few callers each.
MIN_CALLERS = 100
PREDICTORS = ("estimator", "estimator_200", "ql_true_mu", "ql_true_mu_theta", "recent_20",
              "avg_queue_time")
LABELS = {
    "estimator": "(a) ours",
    "estimator_200": "(a') 200 calls",
    "ql_true_mu": "(b) QL μ",
    "ql_true_mu_theta": "(b') QL μ,θ",
    "recent_20": "(c) last20",
    "avg_queue_time": "(d) AvgQT",
}


@dataclass(frozen=True)
class Scenario:
    """One simulated line: operators, load, patience, and how many callers arrive."""

    name: str
    operators: int
    occupancy: float
    patience_seconds: float | None
    callers: int
    surge_mornings: int = 0

    def arrival_rate(self, clock: float) -> float:
        """Calls per second at `clock` seconds after the line opens."""
        capacity = self.operators / HANDLE_SECONDS
        if not self.surge_mornings:
            return self.occupancy * capacity
        return surge_factor(clock) * capacity


# The morning surge, in minutes after opening: (start, factor at start, end, factor at end).
SURGE_SHAPE = ((0, 0.8, 30, 0.8), (30, 0.8, 45, 1.3), (45, 1.3, 75, 1.3),
               (75, 1.3, 90, 0.8), (90, 0.8, 150, 0.8))
SURGE_PEAK = 1.3
SURGE_MINUTES = 150


def surge_factor(clock: float) -> float:
    """Arrival rate as a multiple of capacity during the morning surge; 0 after it."""
    minute = clock / 60.0
    for start, low, end, high in SURGE_SHAPE:
        if start <= minute < end:
            return low + (high - low) * (minute - start) / (end - start)
    return 0.0


@dataclass
class Caller:
    """A caller in the simulation and what each predictor told them."""

    arrived: float
    scored: bool
    patience_ends: float = math.inf
    gave_up: bool = False
    wait: float | None = None  # time to an operator, had they stayed (exact even if they left)
    predictions: dict[str, float] = field(default_factory=dict)
    spoken: tuple[int, int] = (0, 0)


@dataclass
class Tally:
    """Everything one scenario measured."""

    arrivals: int = 0
    scored: int = 0
    delayed: int = 0
    delayed_flags: list[bool] = field(default_factory=list)
    busy_seen: list[int] = field(default_factory=list)  # operators busy as each call came
    scored_waits: list[float] = field(default_factory=list)
    callers: list[Caller] = field(default_factory=list)


class Line:
    """The simulated line: s operators, one FCFS queue, the product's estimate at each arrival."""

    def __init__(self, scenario: Scenario, rng: random.Random) -> None:
        self.scenario = scenario
        self.rng = rng
        self.busy = 0
        self.waiting = 0  # callers in line who have not given up
        self.queue: deque[Caller] = deque()  # includes those who gave up, kept as place-holders
        # (time, sequence, kind, caller, handle seconds of a "done" event)
        self.events: list[tuple[float, int, str, Caller | None, float]] = []
        self.sequence = 0
        self.recent_handles: deque[float] = deque(maxlen=LONG_HANDLE_WINDOW)
        self.recent_outcomes: deque[tuple[float, bool]] = deque(maxlen=PATIENCE_WINDOW)
        self.recent_waits: deque[float] = deque(maxlen=RUNNING_WINDOW)

    def schedule(self, at: float, kind: str, caller: Caller | None = None,
                 handle: float = 0.0) -> None:
        """Put an event on the calendar; the sequence number keeps ties deterministic."""
        self.sequence += 1
        heapq.heappush(self.events, (at, self.sequence, kind, caller, handle))

    def predict(self, clock: float) -> tuple[dict[str, float], tuple[int, int]]:
        """What each predictor would say to a caller arriving now with `self.waiting` ahead."""
        ahead, operators = self.waiting, self.scenario.operators
        handles = list(self.recent_handles)
        patience = estimator.mean_patience(self.recent_outcomes)
        ours = estimator.estimate(ahead, operators,
                                  estimator.mean_handle_time(handles[-HANDLE_WINDOW:]), patience)
        longer = estimator.estimate(ahead, operators, estimator.mean_handle_time(handles),
                                    patience)
        assert ours is not None and longer is not None  # operators > 0 in every scenario
        true_mu_theta, _ = estimator.expected_wait(
            ahead, operators, HANDLE_SECONDS, self.scenario.patience_seconds
        )
        in_line = [clock - c.arrived for c in self.queue if not c.gave_up]
        predictions = {
            "estimator": ours.mean_seconds,
            "estimator_200": longer.mean_seconds,
            "ql_true_mu": (ahead + 1) * HANDLE_SECONDS / operators,
            "ql_true_mu_theta": true_mu_theta,
            "recent_20": statistics.fmean(self.recent_waits) if self.recent_waits else 0.0,
            "avg_queue_time": statistics.fmean(in_line) if in_line else 0.0,
        }
        return predictions, (ours.low_minutes, ours.high_minutes)

    def arrive(self, clock: float, caller: Caller, tally: Tally) -> None:
        """A call comes in: straight to a free operator, or into the line with an estimate."""
        tally.arrivals += 1
        delayed = self.busy >= self.scenario.operators
        if caller.scored:
            tally.scored += 1
            tally.delayed_flags.append(delayed)
            tally.busy_seen.append(self.busy)
        if not delayed:
            caller.wait = 0.0
            if caller.scored:
                tally.scored_waits.append(0.0)
            self.start_service(clock, caller)
            return
        caller.predictions, caller.spoken = self.predict(clock)
        if caller.scored:
            tally.delayed += 1
            tally.callers.append(caller)
        if self.scenario.patience_seconds is not None:
            caller.patience_ends = clock + self.rng.expovariate(1 / self.scenario.patience_seconds)
            self.schedule(caller.patience_ends, "give_up", caller)
        self.queue.append(caller)
        self.waiting += 1

    def start_service(self, clock: float, caller: Caller) -> None:
        """An operator takes `caller`; the handle time is drawn now."""
        self.busy += 1
        self.recent_waits.append(caller.wait or 0.0)
        handle = self.rng.expovariate(1 / HANDLE_SECONDS)
        self.schedule(clock + handle, "done", handle=handle)

    def give_up(self, clock: float, caller: Caller) -> None:
        """A caller hangs up unless an operator already took them."""
        if caller.wait is not None:
            return
        caller.gave_up = True
        self.waiting -= 1
        self.recent_outcomes.append((clock - caller.arrived, True))

    def finish(self, clock: float, handle_seconds: float, tally: Tally) -> None:
        """An operator ends a call and takes the first caller still in line."""
        self.busy -= 1
        self.recent_handles.append(handle_seconds)
        # Those who gave up at the head would have been answered now: score that wait.
        while self.queue and self.queue[0].gave_up:
            ghost = self.queue.popleft()
            ghost.wait = clock - ghost.arrived
        if not self.queue:
            return
        caller = self.queue.popleft()
        self.waiting -= 1
        caller.wait = clock - caller.arrived
        if caller.scored:
            tally.scored_waits.append(caller.wait)
        self.recent_outcomes.append((caller.wait, False))
        self.start_service(clock, caller)


def run_line(scenario: Scenario, rng: random.Random, callers: int, horizon: float | None,
             warmup: int, tally: Tally) -> None:
    """Simulate one line from empty until `callers` arrived (or `horizon`), then drain it."""
    line = Line(scenario, rng)
    factor = SURGE_PEAK if scenario.surge_mornings else scenario.occupancy
    peak = factor * scenario.operators / HANDLE_SECONDS
    made = 0

    def next_arrival(after: float) -> float | None:
        # Thinning (Lewis and Shedler): a Poisson process whose rate follows the scenario.
        moment = after
        while True:
            moment += rng.expovariate(peak)
            if horizon is not None and moment >= horizon:
                return None
            if rng.random() * peak <= scenario.arrival_rate(moment):
                return moment

    first = next_arrival(0.0)
    if first is not None:
        line.schedule(first, "arrive")
    while line.events:
        clock, _, kind, caller, handle = heapq.heappop(line.events)
        if kind == "arrive":
            made += 1
            line.arrive(clock, Caller(arrived=clock, scored=made > warmup), tally)
            upcoming = next_arrival(clock) if made < callers else None
            if upcoming is not None:
                line.schedule(upcoming, "arrive")
        elif kind == "give_up":
            assert caller is not None
            line.give_up(clock, caller)
        else:
            line.finish(clock, handle, tally)


def scenarios(callers: int, mornings: int) -> list[Scenario]:
    """The steady lines (with and without giving up) and the two morning surges."""
    steady = [
        Scenario(
            name=f"s={operators:<3} ρ={occupancy:.2f} {'patience' if patience else 'stay'}",
            operators=operators, occupancy=occupancy, patience_seconds=patience, callers=callers,
        )
        for patience in (None, PATIENCE_SECONDS)
        for operators in (5, 20, 100)
        for occupancy in (0.8, 0.9, 0.95)
    ]
    surges = [
        Scenario(name=f"surge s=20 {'patience' if patience else 'stay'}", operators=20,
                 occupancy=SURGE_PEAK, patience_seconds=patience, callers=0,
                 surge_mornings=mornings)
        for patience in (None, PATIENCE_SECONDS)
    ]
    return steady + surges


def simulate(scenario: Scenario, seed: int) -> Tally:
    """Run one scenario with its own deterministic random stream."""
    rng = random.Random(f"{seed}:{scenario.name}")
    tally = Tally()
    if scenario.surge_mornings:
        for _ in range(scenario.surge_mornings):
            run_line(scenario, rng, callers=sys.maxsize, horizon=SURGE_MINUTES * 60.0,
                     warmup=0, tally=tally)
    else:
        warmup = int(scenario.callers * WARMUP_SHARE)
        run_line(scenario, rng, callers=scenario.callers, horizon=None, warmup=warmup,
                 tally=tally)
    return tally


def score(callers: list[Caller], served_only: bool) -> dict[str, object]:
    """RASE, MAE and bias of every predictor over the chosen callers."""
    chosen = [c for c in callers if c.wait is not None and not (served_only and c.gave_up)]
    waits = [c.wait for c in chosen if c.wait is not None]
    if not waits:
        return {"callers": 0}
    mean_wait = statistics.fmean(waits)
    result: dict[str, object] = {"callers": len(chosen), "mean_wait_s": round(mean_wait, 2)}
    for name in PREDICTORS:
        errors = [c.predictions[name] - wait for c, wait in zip(chosen, waits, strict=True)]
        result[name] = {
            "rase": round(statistics.fmean(e * e for e in errors) / mean_wait**2, 4),
            "mae_s": round(statistics.fmean(abs(e) for e in errors), 2),
            "bias_s": round(statistics.fmean(errors), 2),
        }
    inside = sum(1 for c, wait in zip(chosen, waits, strict=True)
                 if c.spoken[0] * 60 <= wait <= c.spoken[1] * 60)
    result["spoken_range_held"] = round(inside / len(chosen), 4)
    return result


T_975 = {19: 2.093, 18: 2.101}  # Student t quantiles for 20 batches, without and with a control


def batch_means(values: list[float], batches: int = 20) -> list[float]:
    """Means of `batches` consecutive equal blocks: nearly independent when blocks are long."""
    size = len(values) // batches
    return [statistics.fmean(values[i * size:(i + 1) * size]) for i in range(batches)]


def controlled_mean(values: list[float], control: list[float], control_mean: float,
                    batches: int = 20) -> dict[str, float]:
    """Mean of `values` with a 95% batch-means interval, raw and with a control variate.

    A long run of a busy line drifts slowly between crowded and quiet spells, so a plain mean
    converges slowly. The number of busy operators a caller finds has a known mean, A = lambda/mu
    (callers see time averages: PASTA; Little's law for the operators), and drifts with the same
    spells; subtracting beta times its excess over A removes most of that drift without bias.
    """
    ys, zs = batch_means(values, batches), batch_means(control, batches)
    raw = statistics.fmean(ys)
    spread = statistics.variance(zs)
    beta = statistics.covariance(ys, zs) / spread if spread > 0 else 0.0
    residuals = [y - beta * (z - control_mean) for y, z in zip(ys, zs, strict=True)]
    return {
        "raw": raw,
        "raw_ci95": T_975[batches - 1] * statistics.stdev(ys) / math.sqrt(batches),
        "controlled": statistics.fmean(residuals),
        "controlled_ci95": T_975[batches - 2] * statistics.stdev(residuals) / math.sqrt(batches),
    }


def erlang_check(scenario: Scenario, tally: Tally) -> dict[str, object]:
    """Share of callers who waited and mean wait, simulated against Erlang C."""
    load = scenario.occupancy * scenario.operators
    predicted = erlang.erlang_c(scenario.operators, load)
    busy = [float(b) for b in tally.busy_seen]
    share = controlled_mean([float(f) for f in tally.delayed_flags], busy, load)
    asa = controlled_mean(tally.scored_waits, busy, load)
    return {
        "erlang_c": round(predicted, 4),
        "share_waiting_raw": round(share["raw"], 4),
        "share_waiting_raw_ci95": round(share["raw_ci95"], 4),
        "share_waiting": round(share["controlled"], 4),
        "share_waiting_ci95": round(share["controlled_ci95"], 4),
        "difference": round(share["controlled"] - predicted, 4),
        "within_tolerance": abs(share["controlled"] - predicted) <= ERLANG_TOLERANCE,
        "raw_within_tolerance": abs(share["raw"] - predicted) <= ERLANG_TOLERANCE,
        "asa_erlang_s": round(erlang.average_speed_of_answer(scenario.operators, load,
                                                             HANDLE_SECONDS), 2),
        "asa_raw_s": round(asa["raw"], 2),
        "asa_s": round(asa["controlled"], 2),
        "asa_ci95_s": round(asa["controlled_ci95"], 2),
    }


def _row(label: str, cells: list[str]) -> str:
    return f"{label:<26}" + "".join(f"{cell:>13}" for cell in cells)


def print_tables(results: list[dict]) -> None:
    """The numbers a reader needs, as plain-text tables."""
    header = [LABELS[name] for name in PREDICTORS]
    for subset, title in (("served", "answered callers"),
                          ("all", "every caller who waited (those who gave up: wait had "
                                  "they stayed)")):
        for metric, unit in (("rase", "RASE"), ("mae_s", "MAE seconds")):
            print(f"\n{unit} — {title}")
            print(_row("scenario", [*header, "1−ρ", "mean W s", "n"]))
            for result in results:
                scored = result[subset]
                if not scored.get("callers"):
                    continue
                steady_stay = not result["surge"] and result["patience_s"] is None
                theory = f"{1 - result['occupancy']:.2f}" if steady_stay and metric == "rase" \
                    else ""
                cells = [f"{scored[name][metric]:.3f}" if metric == "rase"
                         else f"{scored[name][metric]:.1f}" for name in PREDICTORS]
                print(_row(result["name"], [*cells, theory, f"{scored['mean_wait_s']:.0f}",
                                            str(scored["callers"])]))
    print("\nSpoken range of (a) held the answered caller's wait")
    for result in results:
        held = result["served"].get("spoken_range_held")
        # A short run may leave a lightly loaded line with nobody who had to wait.
        print(_row(result["name"], [f"{held:.1%}" if held is not None else "no waits"]))
    print("\nErlang C check (runs where nobody gives up)")
    print(_row("scenario", ["C(s,A)", "sim raw", "±95%", "sim+control", "±95%", "ok ±0.02",
                            "ASA Erlang", "ASA sim", "±95%"]))
    for result in results:
        check = result.get("erlang_check")
        if check:
            print(_row(result["name"], [
                f"{check['erlang_c']:.4f}", f"{check['share_waiting_raw']:.4f}",
                f"{check['share_waiting_raw_ci95']:.4f}", f"{check['share_waiting']:.4f}",
                f"{check['share_waiting_ci95']:.4f}",
                "yes" if check["within_tolerance"] else "NO",
                f"{check['asa_erlang_s']:.1f}", f"{check['asa_s']:.1f}",
                f"{check['asa_ci95_s']:.1f}",
            ]))


def main(argv: list[str] | None = None) -> int:
    """Run every scenario, print the tables, write results.json; 1 if Erlang C disagrees."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--callers", type=int, default=150_000,
                        help="arrivals per steady scenario (the first 10%% are not scored)")
    parser.add_argument("--mornings", type=int, default=100,
                        help="independent surge mornings per surge scenario")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default: a new runs/<time>/results.json)")
    args = parser.parse_args(argv)
    if args.callers < MIN_CALLERS or args.mornings < 1:
        parser.error(f"--callers must be at least {MIN_CALLERS} and --mornings at least 1")

    began = time.perf_counter()
    results = []
    for scenario in scenarios(args.callers, args.mornings):
        started = time.perf_counter()
        tally = simulate(scenario, args.seed)
        result: dict[str, object] = {
            "name": scenario.name.replace("  ", " ").strip(),
            "operators": scenario.operators,
            "occupancy": scenario.occupancy,
            "patience_s": scenario.patience_seconds,
            "surge": bool(scenario.surge_mornings),
            "arrivals": tally.arrivals,
            "scored_arrivals": tally.scored,
            "scored_waited": tally.delayed,
            "gave_up": sum(1 for c in tally.callers if c.gave_up),
            "served": score(tally.callers, served_only=True),
            "all": score(tally.callers, served_only=False),
            "seconds": round(time.perf_counter() - started, 1),
        }
        if not scenario.surge_mornings and scenario.patience_seconds is None:
            result["erlang_check"] = erlang_check(scenario, tally)
        results.append(result)
        print(f"{result['name']:<26} {tally.arrivals:>8} callers  {result['seconds']:>6}s",
              file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - began

    print_tables(results)
    checks = [r["erlang_check"] for r in results if "erlang_check" in r]
    agreed = all(check["within_tolerance"] for check in checks)
    print(f"\nErlang C agreement within ±{ERLANG_TOLERANCE}: {'yes' if agreed else 'NO'}; "
          f"{elapsed:.0f} s in all")
    document = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {
            "seed": args.seed, "callers_per_steady_scenario": args.callers,
            "warmup_share": WARMUP_SHARE, "surge_mornings": args.mornings,
            "surge_shape_minutes": SURGE_SHAPE, "handle_seconds": HANDLE_SECONDS,
            "patience_seconds": PATIENCE_SECONDS, "handle_window": HANDLE_WINDOW,
            "long_handle_window": LONG_HANDLE_WINDOW, "patience_window": PATIENCE_WINDOW,
            "running_window": RUNNING_WINDOW,
            "handle_prior_seconds": estimator.DEFAULT_HANDLE_SECONDS,
            "handle_prior_calls": estimator.PRIOR_CALLS,
            "erlang_tolerance": ERLANG_TOLERANCE,
        },
        "predictors": LABELS,
        "erlang_c_agrees": agreed,
        "elapsed_s": round(elapsed, 1),
        "scenarios": results,
    }
    output = output_file("waits", args.output)
    output.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n",
                      encoding="utf-8")
    print(f"wrote {output}", file=sys.stderr)
    return 0 if agreed else 1


if __name__ == "__main__":
    raise SystemExit(main())
