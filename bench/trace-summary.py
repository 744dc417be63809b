#!/usr/bin/env python3
"""Summarises an engine trace (CDC_CACHE_TRACE, src/native/core/engine/trace.h): where the slow
events spent their time, stage by stage, and what the engine thread was doing meanwhile.
Usage: python3 bench/trace-summary.py TRACE [--slow-ms 50]"""
import sys


def pct(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def main():
    path = sys.argv[1]
    slow_ms = float(sys.argv[sys.argv.index('--slow-ms') + 1]) if '--slow-ms' in sys.argv else 50.0
    events, steps, logs = [], [], []
    with open(path, errors='replace') as f:
        for line in f:
            kind = line[:1]
            if kind == 'E':
                _, part, off, append_ms, begun, planned, sent, acked = line.split()
                events.append((int(part), int(off), int(append_ms) * 1000, int(begun), int(planned), int(sent), int(acked)))
            elif kind == 'S':
                _, name, start, dur, detail = line.split()
                steps.append((name, int(start), int(dur), int(detail)))
            elif kind == 'L':
                _, at, msg = line.rstrip('\n').split(' ', 2)
                logs.append((int(at), msg))
    stages = {'fetch (append -> begun)': [], 'plan (begun -> planned)': [], 'queue (planned -> sent)': [],
              'redis (sent -> acked)': [], 'total (append -> acked)': []}
    for _, _, a, b, p, s, k in events:
        for name, v in zip(stages, (b - a, p - b, s - p, k - s, k - a)):
            stages[name].append(v / 1000.0)
    print(f'{len(events)} events, {len(steps)} slow steps, {len(logs)} log lines')
    print('stage                      p50 ms   p99 ms  p99.9 ms   max ms')
    for name, values in stages.items():
        print(f'{name:26s} {pct(values, 50):7.2f} {pct(values, 99):8.2f} {pct(values, 99.9):9.2f} {max(values or [0]):8.2f}')
    slow = [e for e in events if (e[6] - e[2]) / 1000.0 >= slow_ms]
    print(f'\n{len(slow)} events slower than {slow_ms} ms')
    # group slow events into episodes (begun within 20 ms of each other)
    episodes = []
    for e in sorted(slow, key=lambda e: e[3]):
        if episodes and e[3] - episodes[-1][-1][3] < 20000:
            episodes[-1].append(e)
        else:
            episodes.append([e])
    for ep in episodes[:15]:
        first = ep[0]
        t0, t1 = first[2] - 5000, max(e[6] for e in ep) + 2000
        worst = max(ep, key=lambda e: e[6] - e[2])
        print(f'\nepisode: {len(ep)} events, partitions {sorted(set(e[0] for e in ep))}; worst: fetch {(worst[3]-worst[2])/1000:.1f} '
              f'plan {(worst[4]-worst[3])/1000:.1f} queue {(worst[5]-worst[4])/1000:.1f} redis {(worst[6]-worst[5])/1000:.1f} ms')
        for name, start, dur, detail in steps:
            if start + dur >= t0 and start <= t1 and dur >= 5000:
                print(f'   step {name:18s} at {(start - first[2]) / 1000:+8.1f} ms  {dur / 1000:7.1f} ms  detail {detail}')
        for at, msg in logs:
            if t0 <= at <= t1:
                print(f'   log  {(at - first[2]) / 1000:+8.1f} ms  {msg[:160]}')
    by_step = {}
    for name, _, dur, _ in steps:
        by_step.setdefault(name, []).append(dur / 1000.0)
    print('\nslow steps (>= threshold) by name: count, p50, max ms')
    for name, v in sorted(by_step.items()):
        print(f'  {name:18s} {len(v):6d} {pct(v, 50):8.2f} {max(v):8.2f}')


main()
