// Tables in Nest: TableModule.forFeature([{ name: 'customers', debezium: {...}, waitForReady: true }])
// provides each table under @InjectTable('customers'). A table with waitForReady is an async
// provider that resolves once the table is ready, so Nest finishes initialising (and the app starts
// listening) only when its tables have caught up. Tables are closed on shutdown.

import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown, type Provider } from '@nestjs/common';

import { createTable, type Table } from '../lib/table';
import type { TableOptions } from '../lib/table-options';

export interface TableFeature extends TableOptions {
  name: string;
  /** Hold application start until the table is ready (true: 60 s at most, or { timeoutMs }). */
  waitForReady?: boolean | { timeoutMs: number };
}

export interface TableFeatureAsync {
  name: string;
  inject?: (string | symbol | (new (...args: never[]) => unknown))[];
  useFactory: (...args: never[]) => TableOptions & Pick<TableFeature, 'waitForReady'> | Promise<TableOptions & Pick<TableFeature, 'waitForReady'>>;
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;

/** The injection token of a table. */
export function tableToken(name: string): string {
  return `cdc-cache:table:${name}`;
}

/** Injects the table registered under name by TableModule.forFeature. */
export const InjectTable = (name: string): PropertyDecorator & ParameterDecorator => Inject(tableToken(name));

/** Every table of the application: for health, metrics and shutdown. */
@Injectable()
export class TableRegistry implements OnApplicationShutdown {
  private readonly byName = new Map<string, Table<unknown, unknown>>();

  add(table: Table<unknown, unknown>): void {
    if (this.byName.has(table.name)) throw new Error(`cdc-cache: two tables are named ${table.name}`);
    this.byName.set(table.name, table);
  }

  get(name: string): Table<unknown, unknown> | undefined {
    return this.byName.get(name);
  }

  tables(): Table<unknown, unknown>[] {
    return [...this.byName.values()];
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.tables().map((t) => t.close()));
  }
}

@Global()
@Module({ providers: [TableRegistry], exports: [TableRegistry] })
class TableCoreModule {}

async function openTable(registry: TableRegistry, name: string, feature: TableOptions & Pick<TableFeature, 'waitForReady'>) {
  const { waitForReady, ...options } = feature;
  const table = createTable<unknown, unknown>({ ...options, name });
  registry.add(table);
  if (waitForReady) {
    const timeoutMs = typeof waitForReady === 'object' ? waitForReady.timeoutMs : DEFAULT_READY_TIMEOUT_MS;
    await table.ready({ timeoutMs });
  }
  return table;
}

@Module({})
export class TableModule {
  static forFeature(features: (TableFeature | TableFeatureAsync)[]): DynamicModule {
    const providers: Provider[] = features.map((feature) =>
      'useFactory' in feature
        ? {
            provide: tableToken(feature.name),
            inject: [TableRegistry, ...(feature.inject ?? [])],
            useFactory: async (registry: TableRegistry, ...args: never[]) => openTable(registry, feature.name, await feature.useFactory(...args)),
          }
        : {
            provide: tableToken(feature.name),
            inject: [TableRegistry],
            useFactory: (registry: TableRegistry) => openTable(registry, feature.name, feature),
          },
    );
    return { module: TableModule, imports: [TableCoreModule], providers, exports: providers.map((p) => (p as { provide: string }).provide) };
  }
}
