// A TypeScript handler for change events: keeps a visible log of customer changes.
import { Injectable, Logger } from '@nestjs/common';
import type { ChangeEvent } from 'cdc-cache';
import { OnChange } from 'cdc-cache/nest';

export interface SeenChange {
  op: string;
  id: unknown;
  email: unknown;
  offset: string;
}

@Injectable()
export class CustomerChangesListener {
  private readonly logger = new Logger(CustomerChangesListener.name);
  private readonly recent: SeenChange[] = [];
  total = 0;

  // public.customers (PostgreSQL) or inventory.customers (MariaDB): whichever source the app runs on.
  @OnChange('*.customers')
  handle(events: ChangeEvent[]): void {
    for (const event of events) {
      const row = (event.after ?? event.before ?? {}) as Record<string, unknown>;
      this.total += 1;
      this.recent.push({ op: event.op ?? '', id: row.id, email: row.email, offset: event.offset });
      if (this.recent.length > 20) this.recent.shift();
    }
    // One line per batch: a backlog of thousands of changes arrives in batches of hundreds.
    const last = this.recent[this.recent.length - 1];
    this.logger.log(
      events.length === 1
        ? `customer ${String(last.id)} changed (op ${last.op}, offset ${last.offset})`
        : `${events.length} customer changes, the last: customer ${String(last.id)} (op ${last.op}, offset ${last.offset})`,
    );
  }

  snapshot(): { total: number; recent: SeenChange[] } {
    return { total: this.total, recent: [...this.recent] };
  }
}
