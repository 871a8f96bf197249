import amqplib from 'amqplib';

/**
 * Delete what a bench round declared. Each deletion runs on a fresh channel because a
 * failed delete closes the channel it ran on. Missing queues/exchanges are fine.
 */
export async function deleteTopology(
  url: string,
  queues: readonly string[],
  exchanges: readonly string[],
): Promise<void> {
  const conn = await amqplib.connect(url);
  conn.on('error', () => {});
  try {
    for (const q of queues) await attempt(conn, (ch) => ch.deleteQueue(q));
    for (const x of exchanges) await attempt(conn, (ch) => ch.deleteExchange(x));
  } finally {
    await conn.close();
  }
}

async function attempt(conn: amqplib.ChannelModel, op: (ch: amqplib.Channel) => Promise<unknown>): Promise<void> {
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  try {
    await op(ch);
    await ch.close();
  } catch {
    // already gone, or the channel closed on error: nothing left to clean
  }
}
