import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { loadConfig } from './config';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  // Lets CacheInvalidationService drain in-flight work and commit on SIGTERM/SIGINT.
  app.enableShutdownHooks();
  const { port } = loadConfig();
  await app.listen(port, '127.0.0.1');
  console.log(`invoice service listening on http://127.0.0.1:${port}`);
}

void bootstrap();
