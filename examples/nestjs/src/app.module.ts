import { Module } from '@nestjs/common';
import { CacheInvalidationModule } from 'cdc-cache/nest';
import { EXAMPLE_CONFIG, ExampleConfig, SOURCES, loadConfig } from './config';
import { CustomerCache } from './customer-cache';
import { CustomerChangesListener } from './customer-changes.listener';
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
  ],
  controllers: [InvoicesController, UsersController],
  providers: [configProvider, CustomerCache, CustomerChangesListener, UsersConsumer],
})
export class AppModule {}
