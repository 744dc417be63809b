import { Module } from '@nestjs/common';
import { CacheInvalidationModule } from 'cdc-cache/nest';
import { EXAMPLE_CONFIG, ExampleConfig, loadConfig } from './config';
import { CustomerCache } from './customer-cache';
import { CustomerChangesListener } from './customer-changes.listener';
import { InvoicesController } from './invoices.controller';

const configProvider = { provide: EXAMPLE_CONFIG, useFactory: loadConfig };

@Module({
  imports: [
    CacheInvalidationModule.forRootAsync({
      useFactory: () => {
        const config: ExampleConfig = loadConfig();
        return {
          kafka: {
            brokers: config.kafkaBrokers,
            groupId: config.groupId,
            topics: ['dbserver1.public.customers'],
            ...(config.startAtEnd ? { config: { 'auto.offset.reset': 'latest' } } : {}),
          },
          redis: { url: config.redisUrl },
          rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'] }],
          deadLetterTopic: 'cdc-cache.dead-letter',
        };
      },
    }),
  ],
  controllers: [InvoicesController],
  providers: [configProvider, CustomerCache, CustomerChangesListener],
})
export class AppModule {}
