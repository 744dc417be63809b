'use strict';
// Steady load: produces workload events at a fixed rate for a fixed time (child process of the
// harness). Every event has its own customer id (idBase+1, idBase+2, ...), so the harness can observe
// each event's Redis delete. Usage: node steady-producer.js <topic> <eventsPerSec> <seconds> <idBase>
const { openProducer, closeProducer } = require('./lib/kafka');
const { generateEvents, encodeBuffers } = require('./lib/workload');
const { loadInfraEnv } = require('./lib/common');

async function main() {
  loadInfraEnv();
  const [topic, rateText, secText, idBaseText] = process.argv.slice(2);
  const rate = Number(rateText), seconds = Number(secText), idBase = Number(idBaseText);
  const total = Math.round(rate * seconds);
  // linger 1 ms: small batches, as a CDC source under moderate load produces them.
  const producer = await openProducer(process.env.KAFKA_BROKERS || '127.0.0.1:19092', { 'linger.ms': 1 });
  producer.setPollInterval(100);
  const events = generateEvents(total, { seed: 7, idBase, uniqueIds: true });
  const t0 = Date.now();
  let sent = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate));
      while (sent < due) {
        const { value: ev } = events.next();
        const { key, value } = encodeBuffers(ev, Date.now());
        producer.produce(topic, ev.partition, value, key);
        sent++;
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await new Promise((resolve, reject) => producer.flush(30000, (err) => (err ? reject(err) : resolve())));
  await closeProducer(producer);
  const sec = (Date.now() - t0) / 1000;
  console.log(`SENT ${sent} ${sec.toFixed(2)}`);
}
main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
