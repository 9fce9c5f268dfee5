/** ZooKeeper's operation codes (`ZooDefs.OpCode`) and the xids its protocol reserves. Numbers are ZooKeeper's. */
export const ZkOpCode = {
  notification: 0,
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getACL: 6,
  setACL: 7,
  getChildren: 8,
  sync: 9,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  reconfig: 16,
  checkWatches: 17,
  removeWatches: 18,
  createContainer: 19,
  deleteContainer: 20,
  createTTL: 21,
  multiRead: 22,
  auth: 100,
  setWatches: 101,
  sasl: 102,
  getEphemerals: 103,
  getAllChildrenNumber: 104,
  setWatches2: 105,
  addWatch: 106,
  whoAmI: 107,
  createSession: -10,
  closeSession: -11,
  error: -1,
} as const;

/** The xids ZooKeeper reserves: a watch event's, a ping's, an auth packet's, a setWatches'. */
export const ZkXid = { notification: -1, ping: -2, auth: -4, setWatches: -8 } as const;

/** The `state` of a watch event: the client is connected. */
export const zkStateSyncConnected = 3;

/** `addWatch` modes. */
export const ZkAddWatchMode = { persistent: 0, persistentRecursive: 1 } as const;

/** `removeWatches`/`checkWatches` watcher types. */
export const ZkWatcherType = { children: 1, data: 2, any: 3 } as const;
