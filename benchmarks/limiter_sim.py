"""Adaptive clients against a throttling quota, simulated: many runs in seconds, no server.

What it is for: tuning ``aiokms/_ratelimit.py`` before confirming a change with
``throttling.py``, whose every run takes real seconds and whose figures vary with the machine's
load. Each call is the client's own attempt loop, :class:`aiokms._retry.Attempts`, driven as
the client drives it (its limiter turns, backoffs, retry quota and ``max_attempts`` 3, with the
adaptive limiters of :class:`aiokms._ratelimit.RateLimiters`) but on a virtual clock, so the
simulation cannot drift from the client. The quota is a token bucket of ``--quota`` requests/s
holding ``--burst`` seconds of it (at least one request): a tenth of a second by default, as
``throttling.py``'s server does; LocalKMS and KMS hold a second's worth. Each request spends
``--cpu`` seconds of its client's one core on either side of a network delay drawn between
``--latency`` bounds. With ``--cores N`` the clients' work also queues for N cores they share,
as ``throttling.py``'s fleet shares the machine with its server: a crowded start-up then
reaches the quota unevenly, as in real runs. With ``--stagger S`` each client starts at a
random moment within S seconds: the real fleet's processes, woken together, send their first
requests up to some 10 ms apart, and a late one finds the quota's burst taken and every one of
its first requests throttled. With ``--jitter J`` a request whose limiter is on goes a random
moment up to J intervals of its limiter's rate after its turn, as the timers of a loaded
machine fire late: senders paced exactly, as by default, fall into step with each other, and
the quota then throttles some more often than others whatever their rates (``--held-rates``).

Reported, over ``--runs`` runs with seeds 0, 1, ...: the goodput as a share of the quota (calls
still under way at the end are counted when they finish), the share of requests throttled (and
after the first 2 seconds), the runs with failed calls, and for a fleet how far each client's
goodput strays from a fair share (an equal division of the fleet's goodput). The targets: as
``throttling.py``'s (goodput >= 90%, throttled <= 10%, no failed calls, every client of a
fleet within 25% of a fair share); 64 callers against a small quota lose no call and are
throttled at most 10% after the first 2 s; fleets of 32 and 1,000 clients sharing 100,000/s
reach 90% with every client within 25%.

Run from the repository root::

    python benchmarks/limiter_sim.py                       # 1 client of 64, then 4 of 16
    python benchmarks/limiter_sim.py --runs 100 --quota 100
    python benchmarks/limiter_sim.py --cores 1                 # 4 clients on one shared core
    python benchmarks/limiter_sim.py --cores 1 --stagger 0.01  # ... starting 0-10 ms apart
    python benchmarks/limiter_sim.py --case small --burst 1    # 64 callers, 5 to 100/s
    python benchmarks/limiter_sim.py --case fleets --runs 5    # 32 and 1,000 clients
    python benchmarks/limiter_sim.py --clients 100 --workers 16 --quota 300 --stagger 1
    python benchmarks/limiter_sim.py --held-rates 300 50 50 50  # who the quota throttles
    python benchmarks/limiter_sim.py --held-rates 10 130 130 140 --jitter 1  # ... out of step

``--clients N --workers W`` runs N clients of W workers each at ``--quota`` instead of a case:
a fleet whose every process has a share of a few requests a second, say.
``--held-rates`` holds each client's limiter at a fixed rate instead (no adaptation) and
prints each client's throttled share: how the quota itself treats senders of unequal rates.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokms._quotas import SYMMETRIC
from aiokms._ratelimit import RateLimiter, RateLimiters
from aiokms._retry import Failure, RetryPolicy, Step

MAX_ATTEMPTS = 3
MIN_SLEEP = 1e-6  # the virtual clock must move: a real one always does between two looks
SETTLE = 2.0  # seconds: throttles after these are counted apart (the start-up is over)


@dataclass
class Client:
    """One client process: its attempt policy (limiters, retry quota), one core, its record."""

    policy: RetryPolicy
    cpu_free_at: float = 0.0
    ok: int = 0
    failed: int = 0
    requests: int = 0
    throttled: int = 0
    late_requests: int = 0  # after the first SETTLE seconds
    late_throttled: int = 0


@dataclass
class Options:
    clients: int
    workers: int
    quota: float
    seconds: float
    cpu: float
    latency: tuple[float, float]
    held_rates: tuple[float, ...] = ()  # per client: a limiter held at this rate, if given
    cores: int = 0  # cores every client's work shares, besides its own; 0: no sharing
    stagger: float = 0.0  # seconds: each client starts at a random moment within this span
    burst: float = 0.1  # seconds of the quota its bucket holds (at least one request)
    jitter: float = 0.0  # a request goes up to this many of its limiter's intervals late


class HeldRate(RateLimiter):
    """A limiter switched on at a fixed rate that no response changes."""

    __slots__ = ()

    def __init__(self, rate: float) -> None:
        super().__init__(0.0)
        self.enabled, self.rate = True, rate

    def on_response(self, throttled: bool, now: float, sent_at: float | None = None) -> None:
        pass


# A worker is a generator that yields ("sleep", seconds) or ("send", client) and is sent back
# None after a sleep and whether the request was throttled after a send.
Worker = Generator[tuple[str, Any], Any, None]


def run(options: Options, seed: int) -> dict[str, Any]:
    """One simulated run; returns its goodput share, throttled share, failures and shares."""
    rng = random.Random(seed)
    burst = max(1.0, options.quota * options.burst)
    bucket = {"tokens": burst, "at": 0.0}
    clock = [0.0]
    events: list[tuple[float, int, Any]] = []
    order = [0]

    def at(when: float, what: Any) -> None:
        order[0] += 1
        heapq.heappush(events, (when, order[0], what))

    def admit(now: float) -> bool:
        """The server's token bucket: False for a throttle."""
        tokens = min(burst, bucket["tokens"] + (now - bucket["at"]) * options.quota)
        bucket["at"] = now
        if tokens >= 1:
            bucket["tokens"] = tokens - 1
            return True
        bucket["tokens"] = tokens
        return False

    shared = [0.0] * options.cores  # when each shared core is next free

    def work(client: Client, ready: float) -> float:
        """``options.cpu`` of the client's work, ready at ``ready``; returns when it is done."""
        start = max(ready, client.cpu_free_at)
        if shared:
            core = min(range(len(shared)), key=shared.__getitem__)
            start = max(start, shared[core])
            shared[core] = start + options.cpu
        client.cpu_free_at = start + options.cpu
        return client.cpu_free_at

    def call(client: Client) -> Worker:
        """One call: its attempts driven as the client drives them, on the virtual clock."""
        attempts = client.policy.attempts(SYMMETRIC)
        step = attempts.next_step(clock[0])
        while True:
            if step is Step.WAIT:
                yield ("sleep", max(attempts.delay, MIN_SLEEP))
                step = attempts.next_step(clock[0])
                continue
            if step is Step.GIVE_UP:
                client.failed += 1
                return
            limiters = client.policy.limiters
            limiter = limiters.get(SYMMETRIC) if limiters and options.jitter else None
            if limiter is not None and limiter.enabled:  # its turn came; the timer fires late
                yield ("sleep", rng.uniform(0.0, options.jitter / limiter.rate))
            attempts.sending(clock[0])
            throttled = yield ("send", client)
            client.requests += 1
            client.throttled += throttled
            if clock[0] >= SETTLE:
                client.late_requests += 1
                client.late_throttled += throttled
            step = attempts.on_reply(Failure.THROTTLE if throttled else None, clock[0])
            if step is Step.DONE:
                client.ok += 1
                return

    def worker(client: Client) -> Worker:
        while clock[0] < options.seconds:
            yield from call(client)

    def resume(task: Worker, value: Any) -> None:
        try:
            kind, arg = task.send(value)
        except StopIteration:
            return
        if kind == "sleep":
            at(clock[0] + arg, (task, None))
            return
        client: Client = arg  # a send: the client's core, the network, the server, back
        sent = work(client, clock[0])
        at(sent + rng.uniform(*options.latency) / 2, ("server", task, client))

    def new_client(make: Callable[[float], RateLimiter] = RateLimiter) -> Client:
        limiters = RateLimiters(make)
        return Client(RetryPolicy(MAX_ATTEMPTS, limiters=limiters, random=rng.random))

    def held_at(rate: float) -> Callable[[float], RateLimiter]:
        return lambda _now: HeldRate(rate)

    if options.held_rates:
        clients = [new_client(held_at(rate)) for rate in options.held_rates]
    else:
        clients = [new_client() for _ in range(options.clients)]
    for each in clients:
        start = rng.uniform(0.0, options.stagger) if options.stagger else 0.0
        for _ in range(options.workers):
            at(start + rng.uniform(0.0, 0.001), (worker(each), None))
    while events:
        now, _, what = heapq.heappop(events)
        clock[0] = now
        if what[0] == "server":
            _, task, sender = what
            throttled = not admit(now)
            back = now + rng.uniform(*options.latency) / 2
            at(work(sender, back), (task, throttled))
        else:
            resume(*what)

    requests = sum(c.requests for c in clients)
    late = sum(c.late_requests for c in clients)
    # a fair share: an equal division of what the clients got (the aggregate has its own
    # target; against the quota's division, a first burst the bucket let through made
    # every share look larger than fair)
    fair = max(sum(c.ok for c in clients), 1) / options.seconds / options.clients
    return {
        "goodput_share": sum(c.ok for c in clients) / options.seconds / options.quota,
        "throttled_share": sum(c.throttled for c in clients) / max(requests, 1),
        "late_throttled_share": sum(c.late_throttled for c in clients) / max(late, 1),
        "failed": sum(c.failed for c in clients),
        "calls": sum(c.ok + c.failed for c in clients),
        "fair_share_ratios": [c.ok / options.seconds / fair for c in clients],
        "throttled_shares": [c.throttled / max(c.requests, 1) for c in clients],
    }


def summarize(results: list[dict[str, Any]]) -> str:
    goodput = [r["goodput_share"] for r in results]
    throttled = [r["throttled_share"] for r in results]
    failing = [r for r in results if r["failed"]]
    failed = sum(r["failed"] for r in results)
    lost = f" ({failed:,} of {sum(r['calls'] for r in results):,} calls)" if failed else ""
    line = (
        f"goodput {min(goodput):.1%} min, {statistics.median(goodput):.1%} median; "
        f"throttled {max(throttled):.1%} max, "
        f"{max(r['late_throttled_share'] for r in results):.1%} after {SETTLE:g} s; "
        f"runs with failed calls {len(failing)}/{len(results)}{lost}"
    )
    if len(results[0]["fair_share_ratios"]) == 1:
        return line
    stray = [max(abs(x - 1) for x in r["fair_share_ratios"]) for r in results]
    shares = sorted(x for r in results for x in r["fair_share_ratios"])
    spread = ""
    if len(shares) >= 100:  # a large fleet: where most shares lie, besides the extremes
        low, high = shares[len(shares) // 100], shares[-1 - len(shares) // 100]
        spread = f", 98% of shares within {low:.2f}-{high:.2f} of fair"
    return (
        f"{line}; fair share within 25% in {sum(s <= 0.25 for s in stray)}/{len(results)} "
        f"(worst {max(stray):.0%} off{spread})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per case (30)")
    parser.add_argument("--quota", type=float, default=400.0, help="requests/s (400)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a run (10)")
    parser.add_argument("--cpu", type=float, default=1e-4, help="client CPU s per request")
    parser.add_argument(
        "--latency", type=float, nargs=2, default=(0.001, 0.004), help="round trip bounds, s"
    )
    parser.add_argument(
        "--cores", type=int, default=0, help="cores the clients share (0: one each, no sharing)"
    )
    parser.add_argument(
        "--stagger", type=float, default=0.0, help="s over which the clients' starts spread (0)"
    )
    parser.add_argument(
        "--jitter", type=float, default=0.0, help="limiter intervals a send may go late (0)"
    )
    parser.add_argument(
        "--held-rates", type=float, nargs="+", metavar="RATE", help="one client per rate, held"
    )
    parser.add_argument(
        "--clients", type=int, help="this many clients at --quota instead of a --case"
    )
    parser.add_argument("--workers", type=int, default=16, help="each --clients' workers (16)")
    parser.add_argument(
        "--burst", type=float, default=0.1, help="s of quota the bucket holds (0.1; KMS: 1)"
    )
    parser.add_argument(
        "--case",
        choices=("clients", "small", "fleets"),
        default="clients",
        help="clients: 1 client of 64 workers, then 4 of 16, at --quota (default); "
        "small: 1 client of 64 at 5, 10, 20 and 100/s; "
        "fleets: 32 and 1,000 clients of 16 at 100,000/s",
    )
    args = parser.parse_args(argv)
    if args.held_rates:
        return held(args)
    if args.clients is not None:
        if args.clients < 1 or args.workers < 1:
            parser.error("--clients and --workers must be at least 1")
        cases = [
            (
                f"{args.clients} x {args.workers} at {args.quota:,g}/s",
                args.clients,
                args.workers,
                args.quota,
            )
        ]
    elif args.case == "small":
        cases = [(f"64 workers at {q}/s", 1, 64, float(q)) for q in (5, 10, 20, 100)]
    elif args.case == "fleets":
        cases = [(f"fleet of {n} x 16 at 100,000/s", n, 16, 100_000.0) for n in (32, 1000)]
    else:
        cases = [
            ("1 client of 64 workers", 1, 64, args.quota),
            ("fleet of 4 x 16", 4, 16, args.quota),
        ]
    for label, clients, workers, quota in cases:
        options = Options(
            clients,
            workers,
            quota,
            args.seconds,
            args.cpu,
            tuple(args.latency),
            cores=args.cores,
            stagger=args.stagger,
            burst=args.burst,
            jitter=args.jitter,
        )
        results = [run(options, seed) for seed in range(args.runs)]
        print(f"{label}: {summarize(results)}", flush=True)
    return 0


def held(args: argparse.Namespace) -> int:
    """Clients at fixed rates: each one's throttled share, median over the runs."""
    rates = tuple(args.held_rates)
    options = Options(
        len(rates),
        16,
        args.quota,
        args.seconds,
        args.cpu,
        tuple(args.latency),
        rates,
        cores=args.cores,
        stagger=args.stagger,
        burst=args.burst,
        jitter=args.jitter,
    )
    results = [run(options, seed) for seed in range(args.runs)]
    print(f"quota {args.quota:.0f}/s, {len(rates)} clients of 16 workers, held rates:")
    for i, rate in enumerate(rates):
        shares = [r["throttled_shares"][i] for r in results]
        print(f"  {rate:7.1f}/s: {statistics.median(shares):.1%} of its requests throttled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
