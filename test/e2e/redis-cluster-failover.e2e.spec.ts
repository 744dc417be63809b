// A master SIGKILLed while rows change: its replica takes over, the invalidator follows it, and no
// change is lost (every delete lands on the new master). The killed node is started again and
// rejoins as a replica, so the cluster is whole for the next run.
import { randomInt, randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { Client } from 'pg';
import {
  CLUSTER_NODES, RowWriter, clusterNodes, clusterOk, masterOf, nodePid, restartMissingNodes, settledStats, startClusterRun, stopClusterRun, waitUntil,
  type ClusterRun,
} from './redis-cluster-helpers';
import type { Invalidator } from '../../lib';


describe('Redis Cluster: a master killed', () => {
  const runId = randomUUID().slice(0, 8);
  const prefix = `clf-${runId}:`;
  const firstId = 5_000_000 + randomInt(1_000_000) * 100;
  const logs: string[] = [];
  let pg: Client;
  let cluster: Cluster;
  let invalidator: Invalidator;
  let writer: RowWriter;
  let clusterRun: ClusterRun | undefined;

  beforeAll(async () => {
    clusterRun = await startClusterRun({ group: 'cdc-cache-e2e-failover', runId, prefix, firstId, logger: { debug() {}, info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) } });
    ({ pg, cluster, invalidator, writer } = clusterRun);
  }, 150_000);

  afterAll(async () => {
    await stopClusterRun(clusterRun);
    await restartMissingNodes().catch(() => undefined);  // whatever happened, leave the cluster whole
  });

  it('follows the promoted replica and loses no delete', async () => {
    await writer.warmUp();
    const baseline = await settledStats(invalidator);
    const victim = await masterOf(cluster, writer.ids.map((id) => `${prefix}customer:${id}`)[0]);
    const port = Number(victim.split(':')[1]);
    expect((await clusterNodes()).find((n) => n.address === victim)?.master).toBe(true);

    await writer.fill();
    // Every master's replica has the fills before the kill, so the ones that must be deleted survive it.
    await Promise.all(cluster.nodes('master').map((node) => node.call('WAIT', '1', '5000')));
    process.kill(nodePid(port), 'SIGKILL');
    await writer.update();  // these changes reach Redis while the master is gone
    await waitUntil('every key to be deleted on the new masters', () => writer.allDeleted(), 45_000);
    writer.rounds++;

    await waitUntil('three masters without the killed one', async () => {
      const masters = (await clusterNodes()).filter((n) => n.master && n.slots > 0);
      return masters.length === 3 && !masters.some((n) => n.address === victim);
    });
    await writer.round();  // and it keeps working on the new topology

    const stats = await settledStats(invalidator);
    if (process.env.CDC_TEST_LOG) console.log(logs.join("\n"));
    expect(stats.deadLettered - baseline.deadLettered).toBe(0);
    // Whether the engine met the dead master (and reconnected) or read the new map first depends on
    // timing; either way every delete above landed. (The lost-node path: cluster_transport_test.)

    await restartMissingNodes();
    await waitUntil('the killed node to rejoin as a replica', async () => {
      const node = (await clusterNodes()).find((n) => n.address === victim);
      return node !== undefined && !node.master && (await clusterOk());
    }, 30_000);
  }, 170_000);
});
