import { Controller, Get, NotFoundException, Param, ParseIntPipe } from '@nestjs/common';
import { CacheInvalidationService } from 'cdc-cache/nest';
import { CustomerCache } from './customer-cache';
import { CustomerChangesListener } from './customer-changes.listener';

@Controller()
export class InvoicesController {
  constructor(
    private readonly customers: CustomerCache,
    private readonly changes: CustomerChangesListener,
    private readonly invalidation: CacheInvalidationService,
  ) {}

  /** An invoice header: the customer's details come through the cache. */
  @Get('invoices/:customerId')
  async invoice(@Param('customerId', ParseIntPipe) customerId: number) {
    const { customer, cache } = await this.customers.get(customerId);
    if (!customer) throw new NotFoundException(`customer ${customerId} not found`);
    return {
      invoiceFor: `${customer.first_name} ${customer.last_name}`,
      email: customer.email,
      customerId: customer.id,
      cache,
    };
  }

  @Get('changes')
  changesSeen() {
    return this.changes.snapshot();
  }

  @Get('health')
  health() {
    return { healthy: this.invalidation.isHealthy(), stats: this.invalidation.stats() };
  }
}
