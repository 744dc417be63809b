'use strict';
// Steady load, every repetition side by side with the bare librdkafka consumer of the same
// repetition and rate, and the issue #14 targets judged per repetition:
//   p99 and p99.9 within 1.5x of the bare consumer's, max within 50 ms of the bare consumer's max.
const RATIO = 1.5;
const MAX_MARGIN_MS = 50;

const fmt = (x, d = 2) => (x == null ? '–' : Number(x).toFixed(d));

// [{ rate, rep, cdc: {p99, p999, max}, bare: {...}, ok: {p99, p999, max} }] for every rate/rep both ran.
function pairRepetitions(results, contender = 'cdc-cache', floor = 'limit-raw-consume') {
  const mine = results[contender] && results[contender].steady_latency;
  const bare = results[floor] && results[floor].steady_latency;
  if (!mine || !bare) return [];
  const pairs = [];
  for (const rate of Object.keys(mine)) {
    for (const run of mine[rate].runs) {
      const b = bare[rate] && bare[rate].runs.find((r) => r.rep === run.rep);
      if (!b || run.ack_p99_ms == null || b.p99_ms == null) continue;
      const cdc = { p99: run.ack_p99_ms, p999: run.ack_p999_ms, max: run.ack_max_ms };
      const floorFigures = { p99: b.p99_ms, p999: b.p999_ms, max: b.max_ms };
      pairs.push({
        rate: Number(rate), rep: run.rep, cdc, bare: floorFigures, load1_before: run.load1_before,
        ok: { p99: cdc.p99 <= RATIO * floorFigures.p99, p999: cdc.p999 <= RATIO * floorFigures.p999,
          max: cdc.max <= floorFigures.max + MAX_MARGIN_MS },
      });
    }
  }
  return pairs.sort((a, b) => a.rate - b.rate || a.rep - b.rep);
}

// Per rate and target: held in every repetition?
function steadyTargets(results) {
  const pairs = pairRepetitions(results);
  const byRate = {};
  for (const p of pairs) {
    const t = byRate[p.rate] = byRate[p.rate] || { reps: 0, p99_held: true, p999_held: true, max_held: true };
    t.reps++;
    t.p99_held = t.p99_held && p.ok.p99;
    t.p999_held = t.p999_held && p.ok.p999;
    t.max_held = t.max_held && p.ok.max;
  }
  return { goal: `p99 and p99.9 <= ${RATIO}x the bare consumer's, max <= bare max + ${MAX_MARGIN_MS} ms, in every repetition`,
    by_rate: byRate, repetitions: pairs };
}

function renderSteadyTargets(targets) {
  if (!targets || !targets.repetitions.length) return [];
  const mark = (ok) => (ok ? 'yes' : '**no**');
  const lines = ['### Every repetition against the bare consumer (issue #14 targets)', '',
    `cdc-cache's ack latency (append → Redis acknowledgement) next to the bare librdkafka consumer's append → consumption, ` +
    `same rate and repetition. Targets: ${targets.goal}.`, '',
    '| rate | rep | cdc-cache p99 | bare p99 | p99 ≤ 1.5x | cdc-cache p99.9 | bare p99.9 | p99.9 ≤ 1.5x | cdc-cache max | bare max | max ≤ bare + 50 |',
    '|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const p of targets.repetitions) {
    lines.push(`| ${p.rate.toLocaleString('en-US')} | ${p.rep} | ${fmt(p.cdc.p99)} | ${fmt(p.bare.p99)} | ${mark(p.ok.p99)} | ` +
      `${fmt(p.cdc.p999)} | ${fmt(p.bare.p999)} | ${mark(p.ok.p999)} | ${fmt(p.cdc.max, 1)} | ${fmt(p.bare.max, 1)} | ${mark(p.ok.max)} |`);
  }
  lines.push('', '| rate | repetitions | p99 held in every one | p99.9 held in every one | max held in every one |', '|---|---|---|---|---|');
  for (const [rate, t] of Object.entries(targets.by_rate)) {
    lines.push(`| ${Number(rate).toLocaleString('en-US')} | ${t.reps} | ${mark(t.p99_held)} | ${mark(t.p999_held)} | ${mark(t.max_held)} |`);
  }
  lines.push('');
  return lines;
}

module.exports = { pairRepetitions, steadyTargets, renderSteadyTargets };
