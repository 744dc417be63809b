// Shapes that cross the native boundary: change events given to handlers and stats snapshots.
// They are produced by the C++ core; TypeScript never parses Debezium JSON itself.

export type ChangeOp = 'c' | 'u' | 'd' | 'r' | 't' | 'm';
/** Event kinds, spelled as the C++ core spells them (event_kind_name in debezium/change_event.h). */
export const CHANGE_KINDS = ['change', 'tombstone', 'heartbeat', 'transaction', 'schemaChange'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number] | (string & {});

export interface ChangeEventSource {
  /** "postgresql", "mysql", "mongodb", or "" when unknown. */
  connector: string;
  db: string;
  /** PostgreSQL schema; "" for MySQL/MongoDB. */
  schema: string;
  /** Table or MongoDB collection. */
  table: string;
  /** The name selectors match: "schema.table" (PostgreSQL), "db.table" (MySQL/MongoDB). */
  name: string;
  /** LSN / binlog file:pos / oplog position, for logs. */
  position: string;
  /** Commit time in the source database (ms since epoch), 0 when unknown. */
  tsMs: number;
}

/**
 * A value of a row image. Integers beyond Number.MAX_SAFE_INTEGER (2^53 - 1: BIGINT ids, lsns)
 * arrive as a string of their exact digits, never as a rounded number; smaller integers are numbers.
 */
export type RowValue = string | number | boolean | null | RowValue[] | { [field: string]: RowValue };

/** A decoded change delivered to onChange handlers. */
export interface ChangeEvent {
  kind: ChangeKind;
  /** Debezium's op letter; null for messages without one (heartbeat, transaction, schema change). */
  op: ChangeOp | null;
  source: ChangeEventSource;
  /** Row image before the change (null for creates, and often for PostgreSQL updates). */
  before: Record<string, RowValue> | null;
  /** Row image after the change (null for deletes). */
  after: Record<string, RowValue> | null;
  /** The decoded Kafka message key. */
  key: Record<string, RowValue> | null;
  topic: string;
  partition: number;
  /** Kafka offset; a string because offsets are 64-bit. */
  offset: string;
  /** When Debezium processed the event (ms since epoch). */
  timestampMs: number;
}

/**
 * Milliseconds from a message's Kafka timestamp (`kafka`) or its source commit (`source`) to when
 * it was finished: its Redis effects acknowledged and its handlers resolved (or it was skipped or
 * dead-lettered). Over all messages since start.
 */
export interface LagSummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export interface PartitionStats {
  topic: string;
  partition: number;
  /** Committed offset (64-bit, as a string). */
  committed: string;
  /**
   * Next offset to consume (64-bit, as a string): known from the assignment on (the committed offset,
   * else where auto.offset.reset points), "-1" only when Kafka could not say within 5 s. Once it is
   * known, every message appended from then on is consumed, also under `auto.offset.reset: 'latest'`.
   */
  position: string;
  /** Messages behind the high watermark. */
  lag: number;
}

/** A snapshot of the engine's counters (all cumulative since start unless noted). */
export type { ReadStats, ConsistencyStats } from './read-path';
import type { ConsistencyStats, ReadStats } from './read-path';
import type { MessageTopicStats } from './messages';

export interface CdcCacheStats {
  running: boolean;
  healthy: boolean;
  redisConnected: boolean;
  consumed: number;
  applied: number;
  skipped: {
    tombstone: number;
    heartbeat: number;
    transaction: number;
    schemaChange: number;
    noRule: number;
    truncate: number;
    message: number;
  };
  missingFields: number;
  deadLettered: number;
  keysDeleted: number;
  keysRefreshed: number;
  /** Tombstones applied as deletes from their key (ExtractNewRecordState dropping the delete record). */
  tombstoneDeletes: number;
  /** Refreshes not written because the key already held a newer source position (replays, reordering). */
  refreshesOlderSkipped: number;
  /** Updates refreshed without a before image (REPLICA IDENTITY DEFAULT, flattened records): a changed key field leaves the old key behind. */
  refreshesWithoutBefore: number;
  redis: {
    roundTrips: number;
    commands: number;
    errors: number;
    reconnects: number;
    /** Refresh SETs refused for memory (-OOM) whose key was deleted instead. */
    fallbackDeletes: number;
    /** Commands of partitions no longer owned (revoked during an outage), dropped unsent. */
    revokedDropped: number;
    /** Redis Cluster: MOVED and ASK redirections followed, and slot map reads (at connect, after MOVED, after an outage). */
    moved: number;
    asked: number;
    slotMapRefreshes: number;
    batchSizeAvg: number;
  };
  handlers: { delivered: number; inFlight: number; failed: number };
  /** Fetched messages waiting to be processed (bytes now, the peak), and fetch pauses because that buffer was full. */
  prefetch: { bytes: number; peakBytes: number; pauses: number };
  partitions: PartitionStats[];
  /** End-to-end lag in ms from the source commit (source) and from the Kafka timestamp (kafka) to the Redis ack. */
  lagMs: { source: LagSummary; kafka: LagSummary };
  /** The read side (getOrLoad) of this process. */
  read: ReadStats;
  /** Leases and the consistency probe: the numbers to alert on (stale). */
  consistency: ConsistencyStats;
  /** Per topic, for onMessage handlers (and onChange handlers with idempotency). */
  messages?: Record<string, MessageTopicStats>;
}

/** The stats of an invalidator that is not running. */
export function emptyStats(): CdcCacheStats {
  const lag = (): LagSummary => ({ count: 0, p50: 0, p99: 0, p999: 0, max: 0 });
  return {
    running: false,
    healthy: false,
    redisConnected: false,
    consumed: 0,
    applied: 0,
    skipped: { tombstone: 0, heartbeat: 0, transaction: 0, schemaChange: 0, noRule: 0, truncate: 0, message: 0 },
    missingFields: 0,
    deadLettered: 0,
    keysDeleted: 0,
    keysRefreshed: 0,
    tombstoneDeletes: 0,
    refreshesOlderSkipped: 0,
    refreshesWithoutBefore: 0,
    redis: { roundTrips: 0, commands: 0, errors: 0, reconnects: 0, fallbackDeletes: 0, revokedDropped: 0, moved: 0, asked: 0, slotMapRefreshes: 0, batchSizeAvg: 0 },
    handlers: { delivered: 0, inFlight: 0, failed: 0 },
    prefetch: { bytes: 0, peakBytes: 0, pauses: 0 },
    partitions: [],
    lagMs: { source: lag(), kafka: lag() },
    read: {
      hits: 0, misses: 0, loads: 0, fills: 0, leaseWaits: 0, waitTimeouts: 0, coalesced: 0, redisErrors: 0,
      roundTrips: 0, connected: false, probesInFlight: 0,
    },
    consistency: { checked: 0, stale: 0, fillsRefused: 0, leaseWaits: 0, coalesced: 0 },
    messages: {},
  };
}
