"""kazoo against a synod cluster's ZooKeeper ports: CRUD with versions, ephemeral and
sequential nodes, a one-shot watch, a multi, the Lock recipe; then the member the
first client is connected to is killed (argv: hosts, then port=pid pairs), and the
session must move to another member with its ephemeral node, its lock and its watch.
Prints one JSON object of what it saw; the test asserts on it."""
import json, os, signal, sys, threading, time
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import BadVersionError, NoNodeError, NodeExistsError, NotEmptyError

hosts = sys.argv[1]
pids = dict(pair.split('=') for pair in sys.argv[2:])
seen = {}

a = KazooClient(hosts=hosts, timeout=10, connection_retry={'max_tries': -1, 'delay': 0.1, 'max_delay': 1})
a.start(timeout=15)
b = KazooClient(hosts=hosts, timeout=10, connection_retry={'max_tries': -1, 'delay': 0.1, 'max_delay': 1})
b.start(timeout=15)

# CRUD with versions.
a.create('/app', b'')
seen['create'] = a.create('/app/config', b'v1')
data, stat = a.get('/app/config')
seen['get'] = [data.decode(), stat.version, stat.dataLength, stat.numChildren]
a.set('/app/config', b'v2', version=0)
try:
    a.set('/app/config', b'v3', version=0)
    seen['badVersion'] = False
except BadVersionError:
    seen['badVersion'] = True
try:
    a.create('/app/config', b'')
    seen['nodeExists'] = False
except NodeExistsError:
    seen['nodeExists'] = True
try:
    a.delete('/app')
    seen['notEmpty'] = False
except NotEmptyError:
    seen['notEmpty'] = True
try:
    a.get('/missing')
    seen['noNode'] = False
except NoNodeError:
    seen['noNode'] = True
seen['read-your-write-on-b'] = b.get('/app/config')[0].decode() if b.sync('/app/config') else None

# Ephemeral and sequential nodes.
seen['seq'] = [a.create('/app/job-', b'', sequence=True) for _ in range(3)]
seen['ephemeral'] = a.create('/app/alive', b'a', ephemeral=True)
seen['ephemeralOwner'] = a.exists('/app/alive').ephemeralOwner == a.client_id[0]

# A one-shot watch fires once.
events = []
fired = threading.Event()
def on_change(event):
    events.append([event.type, event.path])
    fired.set()
b.get('/app/config', watch=on_change)
a.set('/app/config', b'w1')
fired.wait(5)
a.set('/app/config', b'w2')
b.sync('/app/config')
time.sleep(0.3)
seen['watch'] = events

# A multi: all or nothing.
t = a.transaction()
t.create('/app/t1', b'')
t.check('/app/config', 99)
seen['multiFailed'] = [type(r).__name__ for r in t.commit()]
seen['multiLeftNothing'] = a.exists('/app/t1') is None
t = a.transaction()
t.create('/app/t1', b'')
t.set_data('/app/config', b'm')
seen['multiOk'] = [r if isinstance(r, str) else type(r).__name__ for r in t.commit()]

# The Lock recipe: a holds it, b cannot take it.
lock_a = a.Lock('/locks/resource', 'a')
seen['lockA'] = lock_a.acquire(timeout=5)
lock_b = b.Lock('/locks/resource', 'b')
seen['lockBWhileHeld'] = lock_b.acquire(blocking=False)

# The other recipes: Counter, Queue, Barrier, Election, Semaphore.
counter_a, counter_b = a.Counter('/recipes/counter'), b.Counter('/recipes/counter')
for _ in range(3):
    counter_a += 1
    counter_b += 1
counter_b.value  # noqa: read back through b
# Reads are served by each client's own member (sequentially consistent, as ZooKeeper's):
# a read of another client's write syncs first.
a.sync('/recipes/counter')
seen['counter'] = a.Counter('/recipes/counter').value
queue_a, queue_b = a.Queue('/recipes/queue'), b.Queue('/recipes/queue')
for item in (b'one', b'two', b'three'):
    queue_a.put(item)
b.sync('/recipes/queue')
seen['queue'] = [queue_b.get().decode(), queue_b.get().decode()]
barrier_a, barrier_b = a.Barrier('/recipes/barrier'), b.Barrier('/recipes/barrier')
barrier_a.create()
b.sync('/recipes/barrier')
seen['barrierUp'] = barrier_b.wait(timeout=0.2)
elected = threading.Event()
resign = threading.Event()
def lead():
    elected.set()
    resign.wait(60)
election_a = a.Election('/recipes/election', 'a')
leader_thread = threading.Thread(target=election_a.run, args=(lead,), daemon=True)
leader_thread.start()
elected.wait(10)
b.sync('/recipes/election')
seen['electionLeader'] = b.Election('/recipes/election').contenders()[:1]
sem_a = a.Semaphore('/recipes/semaphore', 'a', max_leases=1)
seen['semaphoreA'] = sem_a.acquire(timeout=5)
sem_b = b.Semaphore('/recipes/semaphore', 'b', max_leases=1)
seen['semaphoreBWhileHeld'] = sem_b.acquire(blocking=False)

# Kill the member a is connected to; its session must move, with its ephemeral, lock and watch.
session_before = a.client_id[0]
port = str(a._connection._socket.getpeername()[1])
states = []
a.add_listener(lambda s: states.append(s))
moved = threading.Event()
lost_watch = []
a.get('/app/config', watch=lambda e: (lost_watch.append([e.type, e.path]), moved.set()))
recipe_seen = []
after_move = threading.Event()
@a.DataWatch('/app/config')
def on_data(data, stat):
    recipe_seen.append(data.decode() if data is not None else None)
    if data == b'after-move':
        after_move.set()
os.kill(int(pids[port]), signal.SIGKILL)
seen['killed'] = port
deadline = time.time() + 30
while time.time() < deadline:
    try:
        a.sync('/')
        if a._connection._socket is not None and str(a._connection._socket.getpeername()[1]) != port:
            break
    except Exception:
        pass
    time.sleep(0.2)
seen['movedTo'] = str(a._connection._socket.getpeername()[1])
seen['sameSession'] = a.client_id[0] == session_before
seen['statesAfterKill'] = [str(s) for s in states]
seen['ephemeralSurvived'] = b.exists('/app/alive') is not None
seen['lockBAfterMove'] = lock_b.acquire(blocking=False)
# The lock's node is still a's ephemeral, owned by the moved session, first in line.
lock_nodes = b.get_children('/locks/resource')
seen['lockContendersAfterMove'] = lock_b.contenders()
seen['lockNodeOwnedAfterMove'] = len(lock_nodes) == 1 and b.exists('/locks/resource/' + lock_nodes[0]).ephemeralOwner == session_before
b.set('/app/config', b'after-move')
moved.wait(10)
seen['watchAfterMove'] = lost_watch
after_move.wait(10)
seen['dataWatchAfterMove'] = recipe_seen[-1] if recipe_seen else None
lock_a.release()
seen['lockBAfterRelease'] = lock_b.acquire(timeout=10)
lock_b.release()

# The recipes after the move: a still leads and holds the semaphore; the counter and queue go on.
seen['electionLeaderAfterMove'] = b.Election('/recipes/election').contenders()[:1]
seen['semaphoreBAfterMove'] = sem_b.acquire(blocking=False)
counter_a += 10
b.sync('/recipes/counter')
seen['counterAfterMove'] = b.Counter('/recipes/counter').value
seen['queueAfterMove'] = queue_a.get().decode()
barrier_a.remove()
seen['barrierDown'] = barrier_b.wait(timeout=5)
resign.set()
leader_thread.join(10)
sem_a.release()
seen['semaphoreBAfterRelease'] = sem_b.acquire(timeout=10)
sem_b.release()
a.stop()
a.close()
b.sync('/')
seen['ephemeralGoneAfterClose'] = b.exists('/app/alive') is None
b.stop()
b.close()
print(json.dumps(seen))
