export { EtcdSync, type EtcdSyncOptions } from './etcd-sync.js';
export { MemorySync } from './memory-sync.js';
export type { CampaignOptions, Held, Leadership, LockHandle, LockOptions, Sync } from './sync.js';
