import { Module } from '@nestjs/common';
import { CacheInvalidationModule, TableModule } from 'cdc-cache/nest';
import { EXAMPLE_CONFIG, ExampleConfig, SOURCES, loadConfig } from './config';
import { CustomerCache } from './customer-cache';
import { CustomerChangesListener } from './customer-changes.listener';
import { CustomerTableController } from './customer-table.controller';
import { InvoicesController } from './invoices.controller';
import { UsersConsumer, UsersController } from './users';

const configProvider = { provide: EXAMPLE_CONFIG, useFactory: loadConfig };

@Module({
  imports: [
    CacheInvalidationModule.forRootAsync({
      useFactory: () => {
        const config: ExampleConfig = loadConfig();
        const source = SOURCES[config.source];
        return {
          kafka: {
            brokers: config.kafkaBrokers,
            groupId: config.groupId ?? source.groupId,
            topics: [source.topic],
            // users.created is created by the first publish; the consumer may ask for it first.
            // A consumer learns of a topic created after it subscribed at its next metadata refresh.
            config: { 'allow.auto.create.topics': true, 'topic.metadata.refresh.interval.ms': 2000, ...(config.startAtEnd ? { 'auto.offset.reset': 'latest' } : {}) },
          },
          redis: { url: config.redisUrl },
          keyPrefix: source.keyPrefix,
          rules: [{ source: source.sourceName, invalidate: ['customer:{id}', 'customer:email:{email}'] }],
          deadLetterTopic: 'cdc-cache.dead-letter',
        };
      },
    }),
    // The customers topic held in memory: /invoices/:id/local reads it with no Redis hop. The app
    // starts listening once the table has read the topic to its end.
    TableModule.forFeature([
      {
        name: 'customers',
        useFactory: () => {
          const config = loadConfig();
          return { debezium: { brokers: config.kafkaBrokers, topic: SOURCES[config.source].topic }, waitForReady: { timeoutMs: 60_000 } };
        },
      },
    ]),
  ],
  controllers: [InvoicesController, CustomerTableController, UsersController],
  providers: [configProvider, CustomerCache, CustomerChangesListener, UsersConsumer],
})
export class AppModule {}
