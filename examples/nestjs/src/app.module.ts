import { Module } from '@nestjs/common';
import { CacheInvalidationModule } from 'cdc-cache/nest';
import { EXAMPLE_CONFIG, ExampleConfig, SOURCES, loadConfig } from './config';
import { CustomerCache } from './customer-cache';
import { CustomerChangesListener } from './customer-changes.listener';
import { InvoicesController } from './invoices.controller';

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
            ...(config.startAtEnd ? { config: { 'auto.offset.reset': 'latest' } } : {}),
          },
          redis: { url: config.redisUrl },
          keyPrefix: source.keyPrefix,
          rules: [{ source: source.sourceName, invalidate: ['customer:{id}', 'customer:email:{email}'] }],
          deadLetterTopic: 'cdc-cache.dead-letter',
        };
      },
    }),
  ],
  controllers: [InvoicesController],
  providers: [configProvider, CustomerCache, CustomerChangesListener],
})
export class AppModule {}
