import type { TestProject } from 'vitest/node';
import { deleteByPrefix } from '../fixtures/amqp-broker.js';
import { PrivateEtcd } from './etcd.js';
import {
  checkPostgres,
  checkRabbit,
  checkRedis,
  testAmqpUrl,
  testPostgresUrl,
  testRedisUrl,
  testRunPrefix,
} from './servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Client URL of the private etcd started for this run. */
    etcdEndpoint: string;
    amqpUrl: string;
    redisUrl: string;
    postgresUrl: string;
  }
}

/**
 * Runs once per `npm test`: every real server the integration tests need must answer,
 * or the run fails here with one line saying how to fix it. Nothing is skipped silently.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runPrefix = testRunPrefix();
  const problems: string[] = [];
  let etcd: PrivateEtcd | undefined;
  await Promise.all([
    checkRabbit().catch((e: Error) => problems.push(e.message)),
    checkRedis().catch((e: Error) => problems.push(e.message)),
    checkPostgres().catch((e: Error) => problems.push(e.message)),
    PrivateEtcd.start()
      .then((e) => {
        etcd = e;
      })
      .catch((e: Error) => problems.push(e.message)),
  ]);
  if (problems.length > 0) {
    await etcd?.close();
    throw new Error(`Integration servers missing:\n  - ${problems.join('\n  - ')}`);
  }
  project.provide('etcdEndpoint', etcd!.endpoint);
  project.provide('amqpUrl', testAmqpUrl());
  project.provide('redisUrl', testRedisUrl());
  project.provide('postgresUrl', testPostgresUrl());
  return async () => {
    await etcd?.close();
    // Queues and exchanges this run declared (exchanges are never auto-deleted).
    await deleteByPrefix(testAmqpUrl(), runPrefix).catch((err: Error) => {
      console.warn(`could not delete this run's RabbitMQ queues/exchanges (${runPrefix}*): ${err.message}`);
    });
  };
}
