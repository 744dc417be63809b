// Runs onChange handlers for batches delivered by the native engine, with retries, and acknowledges
// each batch exactly once: ack(token, true) after success, ack(token, false, reason) after the last
// failed attempt (the engine then dead-letters the batch). The ack gates the batch's offsets. A
// handler that throws LeftUnacknowledged (stopping, its outcome unknown) gets neither: its offsets
// stay uncommitted and the batch is redelivered after a restart.

import type { LogLevel } from './options';
import type { ChangeEvent } from './types';

export type ChangeHandler = (events: ChangeEvent[]) => Promise<void> | void;

export interface HandlerRegistration {
  /** Id given to the native engine (jsHandlers[].id). */
  id: number;
  /** Source selector (same glob syntax as rule sources). */
  selector: string;
  handler: ChangeHandler;
}

export interface DispatcherOptions {
  /** Calls per batch before giving up (>= 1). */
  attempts: number;
  /** Pause between attempts. */
  retryDelayMs: number;
  ack: (token: number, ok: boolean, reason?: string) => void;
  log: (level: LogLevel, message: string) => void;
}

const MAX_REASON_LENGTH = 1000;

/** Thrown by a handler wrapper when stopping leaves a batch's outcome unknown: no ack, no retry. */
export class LeftUnacknowledged extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeftUnacknowledged';
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  try {
    return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

export class HandlerDispatcher {
  private readonly byId = new Map<number, HandlerRegistration>();
  private readonly running = new Set<Promise<void>>();
  private nextId = 1;

  constructor(private readonly options: DispatcherOptions) {}

  /** `id`: one given by the caller (onMessage handlers have ids of their own range). */
  register(selector: string, handler: ChangeHandler, id?: number): HandlerRegistration {
    const registration: HandlerRegistration = { id: id ?? this.nextId++, selector, handler };
    this.byId.set(registration.id, registration);
    return registration;
  }

  registrations(): HandlerRegistration[] {
    return [...this.byId.values()];
  }

  /** Batches whose handler has not settled yet. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Runs the handler for one delivered batch; never rejects. */
  dispatch(token: number, handlerId: number, events: ChangeEvent[]): Promise<void> {
    const run = this.run(token, handlerId, events);
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return run;
  }

  /** Resolves once every batch dispatched so far (and any dispatched meanwhile) has been acknowledged. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private async run(token: number, handlerId: number, events: ChangeEvent[]): Promise<void> {
    const registration = this.byId.get(handlerId);
    if (!registration) {
      const reason = `no onChange handler registered with id ${handlerId}`;
      this.options.log('error', reason);
      this.safeAck(token, false, reason);
      return;
    }
    const { attempts, retryDelayMs } = this.options;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await registration.handler(events);
        this.safeAck(token, true);
        return;
      } catch (error) {
        if (error instanceof LeftUnacknowledged) {
          this.options.log('warn', `onChange("${registration.selector}"): ${error.message}`);
          return;
        }
        lastError = error;
        const more = attempt < attempts;
        this.options.log(
          more ? 'warn' : 'error',
          `onChange("${registration.selector}") failed on attempt ${attempt}/${attempts} for ${events.length} event(s): ${errorText(error)}` +
            (more ? `; retrying in ${retryDelayMs} ms` : '; the batch is dead-lettered'),
        );
        if (more && retryDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      }
    }
    let reason = `onChange("${registration.selector}") failed after ${attempts} attempt(s): ${errorText(lastError)}`;
    if (reason.length > MAX_REASON_LENGTH) reason = `${reason.slice(0, MAX_REASON_LENGTH - 3)}...`;
    this.safeAck(token, false, reason);
  }

  private safeAck(token: number, ok: boolean, reason?: string): void {
    try {
      if (reason === undefined) this.options.ack(token, ok);
      else this.options.ack(token, ok, reason);
    } catch (error) {
      // The engine may already be closed (stop() raced a slow handler): its offsets stay uncommitted
      // and the batch is redelivered after restart, which is what at-least-once requires.
      this.options.log('warn', `could not acknowledge handler batch ${token}: ${errorText(error)}`);
    }
  }
}
