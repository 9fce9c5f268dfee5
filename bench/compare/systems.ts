/** The systems the comparison measures, by name. */
import { etcd } from './etcd.js';
import { synod } from './synod.js';
import type { System, SystemName } from './system.js';
import { zookeeper } from './zookeeper.js';

/** Each system under test, by its name. */
export const systems: Readonly<Record<SystemName, System>> = { etcd, zookeeper, synod };
