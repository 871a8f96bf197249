/** The Sync contract on the embedded MemorySync. */
import { MemorySync } from '@switchyard/sdk';
import { runSyncContract } from '../contract/sync.contract.js';

runSyncContract('memory', async () => {
  const shared = new MemorySync();
  return { a: shared, b: shared, cleanup: () => shared.close() };
});
