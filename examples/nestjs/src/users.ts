// The users flow: application messages with an idempotent producer and an idempotent consumer.
//   POST /users          publishes users.created, its idempotency key the request's message id
//                        (the x-message-id header; a new one when absent)
//   @OnMessage consumer  writes the user to PostgreSQL in the same transaction that records the
//                        message id, so a second request with the same id adds no row: it is
//                        skipped and counted as a duplicate
//   GET /users/:id       the rows written for a message id, and the topic's counters
import { randomUUID } from 'node:crypto';
import { Body, Controller, Get, Headers, Injectable, OnModuleDestroy, OnModuleInit, Param, Post } from '@nestjs/common';
import type { Message, MessageContext } from 'cdc-cache';
import { CacheInvalidationService, OnMessage } from 'cdc-cache/nest';
import { Pool } from 'pg';

export const USERS_TOPIC = 'users.created';

export interface UserCreated {
  name: string;
  email: string;
}

// The users' database: the PostgreSQL of the demo infrastructure (PG_URL). Created at import so the
// decorator below can name it; it connects on first use.
const usersDb = new Pool({ connectionString: process.env.PG_URL, max: 4 });

@Injectable()
export class UsersConsumer implements OnModuleInit, OnModuleDestroy {
  async onModuleInit(): Promise<void> {
    await usersDb.query(
      'CREATE TABLE IF NOT EXISTS example_users (id serial PRIMARY KEY, message_id text NOT NULL, name text NOT NULL, email text NOT NULL)',
    );
  }

  async onModuleDestroy(): Promise<void> {
    await usersDb.end();
  }

  // The id goes into cdc_cache_processed_messages in this transaction: the row and the record
  // commit together, exactly once, even when the message is delivered again.
  @OnMessage(USERS_TOPIC, { decode: 'json', idempotency: { store: 'postgres', pool: usersDb } })
  async created(messages: Message<UserCreated>[], { tx }: MessageContext): Promise<void> {
    for (const m of messages) {
      await tx!.query('INSERT INTO example_users (message_id, name, email) VALUES ($1, $2, $3)', [m.id, m.value.name, m.value.email]);
    }
  }

  async rowsFor(messageId: string): Promise<Array<{ name: string; email: string }>> {
    const { rows } = await usersDb.query('SELECT name, email FROM example_users WHERE message_id = $1', [messageId]);
    return rows;
  }
}

@Controller('users')
export class UsersController {
  constructor(
    private readonly invalidation: CacheInvalidationService,
    private readonly consumer: UsersConsumer,
  ) {}

  @Post()
  async create(@Body() body: UserCreated, @Headers('x-message-id') header?: string) {
    const messageId = header ?? randomUUID();
    const [{ partition, offset }] = await this.invalidation.publish(USERS_TOPIC, [
      { key: body.email, value: { name: body.name, email: body.email }, idempotencyKey: messageId },
    ]);
    return { messageId, partition, offset };
  }

  @Get(':messageId')
  async rows(@Param('messageId') messageId: string) {
    return { rows: await this.consumer.rowsFor(messageId), stats: this.invalidation.messageStats()[USERS_TOPIC] ?? null };
  }
}
