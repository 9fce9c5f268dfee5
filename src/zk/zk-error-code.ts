/**
 * ZooKeeper's error codes (`KeeperException.Code`), as the wire carries them in a reply
 * header's `err` and in a multi's error results. Numbers are ZooKeeper's; never change one.
 */
export const ZkErrorCode = {
  ok: 0,
  systemError: -1,
  runtimeInconsistency: -2,
  dataInconsistency: -3,
  connectionLoss: -4,
  marshallingError: -5,
  unimplemented: -6,
  operationTimeout: -7,
  badArguments: -8,
  unknownSession: -12,
  apiError: -100,
  noNode: -101,
  noAuth: -102,
  badVersion: -103,
  noChildrenForEphemerals: -108,
  nodeExists: -110,
  notEmpty: -111,
  sessionExpired: -112,
  invalidCallback: -113,
  invalidAcl: -114,
  authFailed: -115,
  sessionMoved: -118,
  notReadOnly: -119,
  noWatcher: -121,
  quotaExceeded: -125,
} as const;

/** One of {@link ZkErrorCode}'s numbers. */
export type ZkErrorCodeValue = (typeof ZkErrorCode)[keyof typeof ZkErrorCode];

const names = new Map<number, string>(Object.entries(ZkErrorCode).map(([name, code]) => [code, name]));

/** The name of error code `code` (`noNode` for -101), or `error <code>` for one ZooKeeper does not define. */
export function zkErrorName(code: number): string {
  return names.get(code) ?? `error ${code}`;
}
