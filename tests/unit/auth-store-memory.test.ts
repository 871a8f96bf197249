import { MemoryAuthStore } from '@switchyard/auth';
import { runAuthStoreContract } from '../contract/auth-store.contract.js';

runAuthStoreContract('memory', async () => {
  const store = new MemoryAuthStore();
  await store.start();
  return { store, cleanup: () => store.close() };
});
