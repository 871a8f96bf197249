/** Protocol §4 names for the benchmark service, shared by the raw server and caller. */
export const BENCH_SERVICE = 'bench';
export const BENCH_METHOD = 'reserve';

export const rpcExchange = (ns: string) => `${ns}.rpc`;
export const rpcQueue = (ns: string, service: string) => `${ns}.rpc.${service}`;
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';
export const RPC_TIMEOUT_MS = 30_000;
