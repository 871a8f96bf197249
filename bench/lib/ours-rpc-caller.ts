import { AmqpTransport } from '@switchyard/broker';
import type { Op } from './load.js';
import { PAYLOAD } from './payload.js';
import { BENCH_METHOD, BENCH_SERVICE } from './rpc-topology.js';

/** The caller side of "ours": AmqpTransport.call with its defaults. */
export async function oursRpcCaller(url: string, namespace: string): Promise<{ call: Op; close(): Promise<void> }> {
  const transport = new AmqpTransport({ url, namespace });
  await transport.start();
  return {
    call: () => transport.call(BENCH_SERVICE, BENCH_METHOD, PAYLOAD),
    close: () => transport.close(),
  };
}
