// onMessage handlers with a groupId of their own: one more native engine per such group, with no
// rules and only those handlers' topics (the engine is the consumer: batching, gated commits,
// dead letters). Handlers in the default group run in the invalidator's own engine.

import type { NativeEngine, NativeEngineCallbacks } from './native';
import { toNativeConfig, type ResolvedCdcCacheOptions } from './options';
import type { MessageHandlers, Message } from './messages';
import type { PartitionStats } from './types';
import type { Redactor } from './redact';

export type EngineFactory = (configJson: string, callbacks: NativeEngineCallbacks) => NativeEngine;

/** The native config of an engine: the invalidator's, plus its message handlers. */
export function nativeConfigWithMessages(
  resolved: ResolvedCdcCacheOptions,
  jsHandlers: Array<{ id: number; source: string }>,
  messageHandlers: Array<{ id: number; topic: string; decode: string }>,
): Record<string, unknown> {
  const config: Record<string, unknown> = { ...toNativeConfig(resolved, jsHandlers) };
  if (messageHandlers.length > 0) config.messageHandlers = messageHandlers;
  return config;
}

export class MessageGroupEngines {
  private readonly engines: NativeEngine[] = [];

  constructor(
    private readonly resolved: ResolvedCdcCacheOptions,
    private readonly messages: MessageHandlers,
    private readonly factory: EngineFactory,
    private readonly log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void,
    // Dead-letter reasons go to Kafka: secrets a handler error echoes are taken out first.
    private readonly redact: Redactor,
  ) {}

  async start(): Promise<void> {
    for (const groupId of this.messages.extraGroups(this.resolved.kafka.groupId)) {
      const { topics: _topics, topicPattern: _pattern, ...kafka } = this.resolved.kafka;
      const resolved = { ...this.resolved, kafka: { ...kafka, groupId }, rules: [] };
      const config = nativeConfigWithMessages(resolved, [], this.messages.nativeSpecs(groupId));
      let engine: NativeEngine | undefined;
      const dispatcher = this.messages.dispatcherFor(groupId, (token, ok, reason) => {
        if (!engine) throw new Error('engine is gone');
        if (reason === undefined) engine.ack(token, ok);
        else engine.ack(token, ok, this.redact(reason));
      });
      engine = this.factory(JSON.stringify(config), {
        onEvents: (token, handlerId, events) => {
          void dispatcher.dispatch(token, handlerId, events as unknown as Parameters<typeof dispatcher.dispatch>[2]);
        },
        onLog: (level, message) => this.log(level, `group ${groupId}: ${message}`),
      });
      this.engines.push(engine);
      await engine.start();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.engines.map((engine) => engine.stop()));
  }

  partitions(): PartitionStats[] {
    return this.engines.flatMap((engine) => engine.stats().partitions ?? []);
  }

  healthy(): boolean {
    return this.engines.every((engine) => engine.stats().healthy === true);
  }
}

export type { Message };
