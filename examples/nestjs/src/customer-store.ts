// Where the customer service keeps its rows: PostgreSQL (the default) or MariaDB (DEMO_SOURCE=mariadb).
// The invoice service reads them on a cache miss; the walk-through writes them as the owning service would.
import { createPool, type Pool as MariaDbPool, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { Pool as PgPool } from 'pg';
import type { ExampleConfig } from './config';

export interface Customer {
  id: number;
  first_name: string;
  last_name: string;
  email: string;
}

export interface CustomerStore {
  find(id: number): Promise<Customer | null>;
  insert(firstName: string, lastName: string, email: string): Promise<number>;
  updateEmail(id: number, email: string): Promise<void>;
  end(): Promise<void>;
}

class PostgresCustomers implements CustomerStore {
  private readonly pool: PgPool;

  constructor(url: string) {
    this.pool = new PgPool({ connectionString: url, max: 4 });
  }

  async find(id: number): Promise<Customer | null> {
    const { rows } = await this.pool.query<Customer>('SELECT id, first_name, last_name, email FROM customers WHERE id = $1', [id]);
    return rows[0] ?? null;
  }

  async insert(firstName: string, lastName: string, email: string): Promise<number> {
    const { rows } = await this.pool.query<{ id: number }>(
      'INSERT INTO customers (first_name, last_name, email) VALUES ($1, $2, $3) RETURNING id',
      [firstName, lastName, email],
    );
    return rows[0].id;
  }

  async updateEmail(id: number, email: string): Promise<void> {
    await this.pool.query('UPDATE customers SET email = $1 WHERE id = $2', [email, id]);
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

class MariaDbCustomers implements CustomerStore {
  private readonly pool: MariaDbPool;

  constructor(url: string) {
    this.pool = createPool({ uri: url, connectionLimit: 4 });
  }

  async find(id: number): Promise<Customer | null> {
    const [rows] = await this.pool.query<RowDataPacket[]>('SELECT id, first_name, last_name, email FROM customers WHERE id = ?', [id]);
    return (rows[0] as Customer | undefined) ?? null;
  }

  async insert(firstName: string, lastName: string, email: string): Promise<number> {
    const [result] = await this.pool.query<ResultSetHeader>(
      'INSERT INTO customers (first_name, last_name, email) VALUES (?, ?, ?)',
      [firstName, lastName, email],
    );
    return result.insertId;
  }

  async updateEmail(id: number, email: string): Promise<void> {
    await this.pool.query('UPDATE customers SET email = ? WHERE id = ?', [email, id]);
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

export function openCustomerStore(config: ExampleConfig): CustomerStore {
  return config.source === 'mariadb' ? new MariaDbCustomers(config.sourceUrl) : new PostgresCustomers(config.sourceUrl);
}
