/**
 * What `envi` reports: ZooKeeper prints its JVM's system properties; a synod member
 * prints the same keys where Node.js has the same fact, and `node.*` keys in place of
 * the `java.*` ones (a script reading `java.version` finds none rather than a wrong one).
 */
import { arch, homedir, hostname, release, type, userInfo } from 'node:os';
import { getHeapStatistics } from 'node:v8';

const mib = (bytes: number) => `${Math.floor(bytes / (1024 * 1024))}MB`;

/** The environment's lines after `zookeeper.version`, as [key, value], in ZooKeeper's order. @internal */
export function serverEnvironment(): [string, string][] {
  const heap = getHeapStatistics();
  let user = '';
  try {
    user = userInfo().username;
  } catch {
    // A uid with no passwd entry (some containers): ZooKeeper would print what the JVM was told, here nothing.
  }
  return [
    ['host.name', hostname()],
    ['node.version', process.version],
    ['node.exec.path', process.execPath],
    ['os.name', type()],
    ['os.arch', arch()],
    ['os.version', release()],
    ['user.name', user],
    ['user.home', homedir()],
    ['user.dir', process.cwd()],
    // ZooKeeper reports the JVM heap; these are V8's heap: free, the limit, and what is allocated.
    ['os.memory.free', mib(heap.total_heap_size - heap.used_heap_size)],
    ['os.memory.max', mib(heap.heap_size_limit)],
    ['os.memory.total', mib(heap.total_heap_size)],
  ];
}
