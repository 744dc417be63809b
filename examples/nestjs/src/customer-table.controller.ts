import { Controller, Get, NotFoundException, Param, ParseIntPipe } from '@nestjs/common';
import { InjectTable, type Table } from 'cdc-cache/nest';

/** A customer row as Debezium carries it (the after image), keyed by primary key text. */
export interface CustomerRow {
  id: number;
  first_name: string;
  last_name: string;
  email: string;
}

/**
 * The same invoice header as /invoices/:customerId, answered from the in-memory customers table (a
 * replica of the Debezium customers topic in this process): no Redis read, no database read.
 */
@Controller()
export class CustomerTableController {
  constructor(@InjectTable('customers') private readonly customers: Table<string, CustomerRow>) {}

  @Get('invoices/:customerId/local')
  invoice(@Param('customerId', ParseIntPipe) customerId: number) {
    const customer = this.customers.get(String(customerId));
    if (!customer) throw new NotFoundException(`customer ${customerId} not in the customers table`);
    const lag = this.customers.stats().partitions.reduce((sum, p) => sum + p.lag, 0);
    return {
      invoiceFor: `${customer.first_name} ${customer.last_name}`,
      email: customer.email,
      customerId: customer.id,
      source: 'table',
      tableLagRecords: lag,
    };
  }
}
