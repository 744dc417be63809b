// Prometheus metrics of application messages, per topic (onMessage, and onChange handlers with
// idempotency): messages by outcome, and consumer lag.

import type { MetricContext } from './metrics';

const OUTCOMES = [
  ['consumed', 'consumed'],
  ['handled', 'handled'],
  ['duplicates', 'duplicate'],
  ['retried', 'retried'],
  ['deadLettered', 'dead_lettered'],
] as const;

export function registerMessageMetrics(ctx: MetricContext): void {
  const { constLabels, stats } = ctx;
  const total = `${ctx.prefix}messages_total`;
  ctx.add(
    new ctx.prom.Counter({
      name: total,
      help: 'Application messages per topic by outcome: consumed, handled, duplicate (skipped), retried, dead_lettered.',
      labelNames: [...ctx.constLabelNames, 'topic', 'outcome'],
      registers: [],
      collect() {
        this.reset();
        for (const [topic, s] of Object.entries(stats().messages ?? {})) {
          for (const [field, outcome] of OUTCOMES) this.inc({ ...constLabels, topic, outcome }, Math.max(0, s[field]));
        }
      },
    }),
    total,
  );
  const lag = `${ctx.prefix}messages_lag`;
  ctx.add(
    new ctx.prom.Gauge({
      name: lag,
      help: 'Application messages behind the high watermark, per topic.',
      labelNames: [...ctx.constLabelNames, 'topic'],
      registers: [],
      collect() {
        this.reset();
        for (const [topic, s] of Object.entries(stats().messages ?? {})) this.set({ ...constLabels, topic }, s.lag);
      },
    }),
    lag,
  );
}
