/*
 * Apache Curator against a synod cluster's ZooKeeper ports (test/zk/zk-curator.test.ts
 * runs it with Java's source launcher, no build step). Curator is the client most
 * ZooKeeper users run (Kafka, HBase, Hadoop); this drives its recipes over several
 * sessions at once:
 *
 * - InterProcessMutex: 4 sessions, 25 rounds each, each round a read and a versioned
 *   write of one counter under the lock. A version conflict under the lock means two
 *   holders at once, or a holder reading a value older than the last holder's write.
 * - DistributedAtomicLong: 4 sessions, 25 increments each.
 * - LeaderLatch: 3 contenders, exactly one leader; it leaves, exactly one other leads.
 * - SharedCount: a versioned set wins, a set with a stale version loses.
 * - CuratorCache: a node created, changed and deleted by another session, each change
 *   seen (within 10 s) before the next is made.
 * - A session holding a lock and an ephemeral node while the member it is connected to
 *   is killed: it prints "KILL <session id>" and waits for a line on stdin (the test
 *   kills that member), then the session must have moved with its lock, its ephemeral
 *   node and its id, never LOST; the mutex and the counter then go on.
 *
 * argv: the connect string. Prints one JSON object of what it saw on its last line.
 */
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

public class CuratorRecipes {
  static final Map<String, Object> seen = new LinkedHashMap<>();

  static CuratorFramework client(String hosts) throws Exception {
    CuratorFramework c =
        CuratorFrameworkFactory.builder()
            .connectString(hosts)
            .sessionTimeoutMs(10_000)
            .connectionTimeoutMs(5_000)
            .retryPolicy(new ExponentialBackoffRetry(100, 29, 1_000))
            .build();
    c.start();
    if (!c.blockUntilConnected(20, TimeUnit.SECONDS)) throw new IllegalStateException("no connection to " + hosts);
    return c;
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** One round under the lock: read the counter, write it plus one at the version read; false on a version conflict. */
  static boolean lockedIncrement(CuratorFramework c, InterProcessMutex lock) throws Exception {
    if (!lock.acquire(30, TimeUnit.SECONDS)) throw new IllegalStateException("lock not acquired in 30 s");
    try {
      Stat stat = new Stat();
      int value = Integer.parseInt(new String(c.getData().storingStatIn(stat).forPath("/counter"), StandardCharsets.UTF_8));
      try {
        c.setData().withVersion(stat.getVersion()).forPath("/counter", bytes(Integer.toString(value + 1)));
        return true;
      } catch (KeeperException.BadVersionException e) {
        return false;
      }
    } finally {
      lock.release();
    }
  }

  /** Runs `body(i)` on `n` threads at once and waits for all; the first failure is rethrown. */
  interface Body {
    void run(int i) throws Exception;
  }

  static void together(int n, Body body) throws Exception {
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    for (int i = 0; i < n; i++) {
      final int index = i;
      Thread t =
          new Thread(
              () -> {
                try {
                  body.run(index);
                } catch (Throwable e) {
                  failures.add(e);
                }
              });
      threads.add(t);
      t.start();
    }
    for (Thread t : threads) t.join();
    if (!failures.isEmpty()) throw new RuntimeException(failures.get(0));
  }

  public static void main(String[] args) throws Exception {
    String hosts = args[0];
    List<CuratorFramework> clients = new ArrayList<>();
    for (int i = 0; i < 4; i++) clients.add(client(hosts));
    CuratorFramework a = clients.get(0);
    CuratorFramework b = clients.get(1);

    // InterProcessMutex: 4 sessions contend for one lock around a read and a versioned write.
    a.create().forPath("/counter", bytes("0"));
    AtomicInteger conflicts = new AtomicInteger();
    together(
        4,
        i -> {
          InterProcessMutex lock = new InterProcessMutex(clients.get(i), "/locks/counter");
          for (int round = 0; round < 25; round++) if (!lockedIncrement(clients.get(i), lock)) conflicts.incrementAndGet();
        });
    a.sync().forPath("/counter");
    seen.put("mutexCounter", Integer.parseInt(new String(a.getData().forPath("/counter"), StandardCharsets.UTF_8)));
    seen.put("mutexConflicts", conflicts.get());

    // DistributedAtomicLong: optimistic increments from 4 sessions.
    AtomicInteger failedIncrements = new AtomicInteger();
    together(
        4,
        i -> {
          DistributedAtomicLong counter = new DistributedAtomicLong(clients.get(i), "/atomic", new RetryNTimes(1_000, 1));
          for (int n = 0; n < 25; n++) if (!counter.increment().succeeded()) failedIncrements.incrementAndGet();
        });
    a.sync().forPath("/atomic");
    AtomicValue<Long> atomic = new DistributedAtomicLong(a, "/atomic", new RetryNTimes(10, 10)).get();
    seen.put("atomic", atomic.postValue());
    seen.put("atomicFailed", failedIncrements.get());

    // LeaderLatch: exactly one of three leads; when it leaves, exactly one other does.
    List<LeaderLatch> latches = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      LeaderLatch latch = new LeaderLatch(clients.get(i), "/latch", "c" + i);
      latches.add(latch);
      latch.start();
    }
    LeaderLatch leader = null;
    for (int tries = 0; tries < 200 && leader == null; tries++) {
      for (LeaderLatch l : latches) if (l.hasLeadership()) leader = l;
      if (leader == null) Thread.sleep(50);
    }
    Thread.sleep(300);
    int leaders = 0;
    for (LeaderLatch l : latches) if (l.hasLeadership()) leaders++;
    seen.put("latchLeaders", leaders);
    latches.remove(leader);
    leader.close();
    LeaderLatch next = null;
    for (int tries = 0; tries < 200 && next == null; tries++) {
      for (LeaderLatch l : latches) if (l.hasLeadership()) next = l;
      if (next == null) Thread.sleep(50);
    }
    Thread.sleep(300);
    leaders = 0;
    for (LeaderLatch l : latches) if (l.hasLeadership()) leaders++;
    seen.put("latchLeadersAfterLeaving", leaders);
    for (LeaderLatch l : latches) l.close();

    // SharedCount: a set at the current version wins, one at a stale version loses.
    SharedCount countA = new SharedCount(a, "/shared", 0);
    SharedCount countB = new SharedCount(b, "/shared", 0);
    countA.start();
    countB.start();
    var stale = countB.getVersionedValue();
    seen.put("sharedSet", countA.trySetCount(countA.getVersionedValue(), 5));
    seen.put("sharedStaleSet", countB.trySetCount(stale, 7));
    b.sync().forPath("/shared");
    seen.put("shared", readInt(b, "/shared"));
    countA.close();
    countB.close();

    // CuratorCache: another session's create, change and delete, each seen before the next
    // (a cache, in ZooKeeper as here, may skip states that come and go between its reads).
    a.create().forPath("/cache", new byte[0]);
    List<String> events = new CopyOnWriteArrayList<>();
    CuratorCache cache = CuratorCache.build(b, "/cache");
    CountDownLatch initialized = new CountDownLatch(1);
    cache
        .listenable()
        .addListener(
            CuratorCacheListener.builder()
                .forCreates(n -> events.add("create " + n.getPath() + " " + new String(n.getData(), StandardCharsets.UTF_8)))
                .forChanges((before, after) -> events.add("change " + after.getPath() + " " + new String(after.getData(), StandardCharsets.UTF_8)))
                .forDeletes(n -> events.add("delete " + n.getPath()))
                .forInitialized(initialized::countDown)
                .build());
    cache.start();
    initialized.await(10, TimeUnit.SECONDS);
    a.create().forPath("/cache/x", bytes("1"));
    awaitEvent(events, "create /cache/x 1");
    a.setData().forPath("/cache/x", bytes("2"));
    awaitEvent(events, "change /cache/x 2");
    a.delete().forPath("/cache/x");
    awaitEvent(events, "delete /cache/x");
    List<String> ofX = new ArrayList<>();
    for (String e : events) if (e.contains("/cache/x")) ofX.add(e);
    seen.put("cache", ofX);
    cache.close();

    // A session holding a lock and an ephemeral node; the member it is connected to is killed.
    CuratorFramework m = clients.get(3);
    List<String> states = new CopyOnWriteArrayList<>();
    m.getConnectionStateListenable().addListener((c, state) -> states.add(state.name()));
    InterProcessMutex moveLock = new InterProcessMutex(m, "/locks/move");
    seen.put("moveLockHeld", moveLock.acquire(10, TimeUnit.SECONDS));
    m.create().withMode(CreateMode.EPHEMERAL).forPath("/alive", bytes("m"));
    long session = m.getZookeeperClient().getZooKeeper().getSessionId();
    System.out.println("KILL " + Long.toHexString(session));
    System.out.flush();
    String answer = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    seen.put("killed", answer);
    // The next call waits for the session to come back on another member.
    Stat alive = null;
    for (int tries = 0; tries < 100 && alive == null; tries++) {
      try {
        m.sync().forPath("/alive");
        alive = m.checkExists().forPath("/alive");
      } catch (KeeperException.ConnectionLossException e) {
        Thread.sleep(100);
      }
    }
    seen.put("sameSession", m.getZookeeperClient().getZooKeeper().getSessionId() == session);
    seen.put("ephemeralSurvived", alive != null && alive.getEphemeralOwner() == session);
    // Curator tells its listeners on a thread of its own, after the call above may have
    // returned: wait (bounded) for the state the move ends in before reading them.
    for (int tries = 0; tries < 100 && !states.contains("RECONNECTED") && !states.contains("LOST"); tries++) Thread.sleep(50);
    seen.put("statesDuringMove", new ArrayList<>(states));
    seen.put("moveLockStillHeld", moveLock.isAcquiredInThisProcess());
    InterProcessMutex contender = new InterProcessMutex(a, "/locks/move");
    seen.put("contenderWhileHeld", contender.acquire(500, TimeUnit.MILLISECONDS));
    moveLock.release();
    seen.put("contenderAfterRelease", contender.acquire(10, TimeUnit.SECONDS));
    contender.release();
    // The rest of the cluster goes on: another round of the mutex counter from all four sessions.
    together(
        4,
        i -> {
          InterProcessMutex lock = new InterProcessMutex(clients.get(i), "/locks/counter");
          for (int round = 0; round < 5; round++) if (!lockedIncrement(clients.get(i), lock)) conflicts.incrementAndGet();
        });
    a.sync().forPath("/counter");
    seen.put("mutexCounterAfterMove", readInt(a, "/counter"));
    seen.put("mutexConflictsAfterMove", conflicts.get());

    for (CuratorFramework c : clients) c.close();
    System.out.println(json(seen));
  }

  /** Waits up to 10 s for `event` to be among `events`. */
  static void awaitEvent(List<String> events, String event) throws InterruptedException {
    for (int tries = 0; tries < 200 && !events.contains(event); tries++) Thread.sleep(50);
  }

  static int readInt(CuratorFramework c, String path) throws Exception {
    byte[] data = c.getData().forPath(path);
    // SharedCount stores a 4-byte big-endian int; the counter a decimal string.
    if (path.equals("/shared")) return ((data[0] & 0xff) << 24) | ((data[1] & 0xff) << 16) | ((data[2] & 0xff) << 8) | (data[3] & 0xff);
    return Integer.parseInt(new String(data, StandardCharsets.UTF_8));
  }

  static String json(Object value) {
    if (value instanceof Map<?, ?> map) {
      List<String> parts = new ArrayList<>();
      for (Map.Entry<?, ?> e : map.entrySet()) parts.add(json(e.getKey().toString()) + ":" + json(e.getValue()));
      return "{" + String.join(",", parts) + "}";
    }
    if (value instanceof List<?> list) {
      List<String> parts = new ArrayList<>();
      for (Object o : list) parts.add(json(o));
      return "[" + String.join(",", parts) + "]";
    }
    if (value instanceof String s) return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    return String.valueOf(value);
  }
}
