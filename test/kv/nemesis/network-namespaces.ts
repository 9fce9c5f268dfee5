/**
 * A private network of Linux network namespaces, for a nemesis whose faults the kernel
 * makes: one namespace per host, each joined by a veth pair to a router namespace in
 * the middle, and one veth pair from the namespace this process runs in (where the
 * test's clients are) to the router.
 *
 * ```
 *   this process (10.213.N.2) ──┐
 *   synod-RUN-a  (10.213.N.10) ─┤
 *   synod-RUN-b  (10.213.N.11) ─┼── synod-RUN-router (10.213.N.1, forwards)
 *   ...                         ┘
 * ```
 *
 * Every host has one /32 address and routes the /24 through the router, so all traffic
 * between hosts crosses it. A fault is a policy-routing rule of type blackhole on the
 * router (`ip rule add from A to B blackhole`): the packets from A to B are dropped in
 * transit, silently, with no ICMP error, as a broken switch would. Neither end learns
 * of it from its own kernel: connects and writes stall until the sender's own timeouts
 * give up. One rule cuts one direction, so partitions, one-way cuts and bridges are all
 * sets of rules.
 *
 * Everything is named for the run (`synod-RUN-*` namespaces, `syRUN*` interfaces) in a
 * /24 of 10.213.0.0/16 that no address or route here uses; `remove` deletes it all. The
 * only thing made in this process's namespace is the one veth end, its address and its
 * two routes, which go with the interface.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs `ip ARGS`; throws with the command and its stderr. */
async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`\`ip ${args.join(' ')}\` failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/**
 * Why network namespaces cannot be used here, or undefined if they can: not root, or
 * `ip netns add` fails (no CAP_SYS_ADMIN in this container, no kernel support, no `ip`).
 */
export async function namespacesUnavailable(): Promise<string | undefined> {
  const uid = process.getuid?.();
  if (uid !== 0) return `not root (uid ${uid ?? 'unknown'}): creating network namespaces needs root`;
  const probe = `synod-probe-${randomBytes(4).toString('hex')}`;
  try {
    await ip('netns', 'add', probe);
  } catch (error) {
    return (error as Error).message;
  }
  await ip('netns', 'del', probe);
  return undefined;
}

/** A fault: packets from `from` to `to` are dropped (host names as given to `create`). */
export interface Cut {
  readonly from: string;
  readonly to: string;
}

export class NamespaceNetwork {
  /** Rules in force on the router, as given to `ip rule`. */
  private readonly rules: string[][] = [];

  private constructor(
    /** The per-run name part. */
    readonly run: string,
    /** The /24's first three octets, such as `10.213.57`. */
    private readonly subnet: string,
    private readonly addresses: ReadonlyMap<string, string>,
    /** Namespaces made so far, the router's last; and the veth end in this process's namespace, if made. */
    private readonly made: { namespaces: string[]; localLink: string | undefined },
  ) {}

  /** The name this process's own host goes by in `cut`. */
  static readonly local = 'local';

  /**
   * Makes the network: a namespace for each of `hosts` (ids of at most 7 characters) and
   * a link from this process's namespace. On failure, what was made is removed.
   */
  static async create(hosts: readonly string[]): Promise<NamespaceNetwork> {
    if (hosts.length > 200) throw new Error(`NamespaceNetwork: ${hosts.length} hosts, more than a /24 holds`);
    for (const host of hosts)
      if (!/^[a-z0-9]{1,7}$/.test(host) || host === NamespaceNetwork.local)
        throw new Error(`NamespaceNetwork: host name ${JSON.stringify(host)} must be 1 to 7 of [a-z0-9], not "local"`);
    const run = randomBytes(3).toString('hex');
    const subnet = await unusedSubnet();
    const addresses = new Map<string, string>([[NamespaceNetwork.local, `${subnet}.2`]]);
    hosts.forEach((host, i) => addresses.set(host, `${subnet}.${10 + i}`));
    const network = new NamespaceNetwork(run, subnet, addresses, { namespaces: [], localLink: undefined });
    try {
      await network.build(hosts);
    } catch (error) {
      await network.remove().catch(() => {});
      throw error;
    }
    return network;
  }

  /** The namespace of `host`. */
  namespace(host: string): string {
    return `synod-${this.run}-${host}`;
  }

  private get router(): string {
    return `synod-${this.run}-router`;
  }

  /** The address of `host` (or of this process, `NamespaceNetwork.local`). */
  address(host: string): string {
    const address = this.addresses.get(host);
    if (address === undefined) throw new Error(`NamespaceNetwork: no host ${host}`);
    return address;
  }

  /** The command prefix that runs a program in `host`'s namespace (it execs the program in place). */
  exec(host: string): string[] {
    this.address(host);
    return ['ip', 'netns', 'exec', this.namespace(host)];
  }

  /** Drops the packets of each cut, until `heal`. */
  async cut(cuts: readonly Cut[]): Promise<void> {
    for (const { from, to } of cuts) {
      const rule = ['pref', '100', 'from', `${this.address(from)}/32`, 'to', `${this.address(to)}/32`, 'blackhole'];
      await ip('-n', this.router, 'rule', 'add', ...rule);
      this.rules.push(rule);
    }
  }

  /** Removes every cut. */
  async heal(): Promise<void> {
    while (this.rules.length > 0) await ip('-n', this.router, 'rule', 'del', ...this.rules.pop()!);
  }

  /**
   * Deletes every namespace and interface this network made. Processes still running in
   * a namespace keep it (and its links) alive until they exit: stop them first. Tries
   * everything, then throws the first failure.
   */
  async remove(): Promise<void> {
    const failures: Error[] = [];
    const attempt = (p: Promise<unknown>) => p.catch((error: Error) => failures.push(error));
    // The router's end goes with this one, and the other way round.
    if (this.made.localLink !== undefined) await attempt(ip('link', 'del', this.made.localLink));
    this.made.localLink = undefined;
    for (const namespace of this.made.namespaces.splice(0).reverse()) await attempt(ip('netns', 'del', namespace));
    if (failures.length > 0) throw failures[0]!;
  }

  private async build(hosts: readonly string[]): Promise<void> {
    const router = this.router;
    await this.addNamespace(router);
    await ip('-n', router, 'link', 'set', 'lo', 'up');
    await run('ip', ['netns', 'exec', router, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']).catch((error: { stderr?: string }) => {
      throw new Error(`cannot turn on forwarding in ${router}: ${error.stderr ?? String(error)}`);
    });
    // This process's link first: its name must be free here, where other interfaces live.
    const localLink = `sy${this.run}local`;
    await ip('link', 'add', localLink, 'type', 'veth', 'peer', 'name', `sy${this.run}local`, 'netns', router);
    this.made.localLink = localLink;
    await this.attach(NamespaceNetwork.local, undefined, localLink);
    await Promise.all(
      hosts.map(async (host) => {
        const namespace = this.namespace(host);
        await this.addNamespace(namespace);
        await ip('-n', namespace, 'link', 'set', 'lo', 'up');
        await ip('link', 'add', 'eth0', 'netns', namespace, 'type', 'veth', 'peer', 'name', `sy${this.run}${host}`, 'netns', router);
        await this.attach(host, namespace, 'eth0');
      }),
    );
  }

  /**
   * Addresses `host`'s end (`link`, in `namespace`, or here when undefined) and the
   * router's (`syRUNhost`), brings both up, and routes the subnet through the router.
   */
  private async attach(host: string, namespace: string | undefined, link: string): Promise<void> {
    const at = namespace === undefined ? [] : ['-n', namespace];
    const routerLink = `sy${this.run}${host}`;
    const address = this.address(host);
    await ip('-n', this.router, 'addr', 'add', `${this.subnet}.1/32`, 'dev', routerLink);
    await ip('-n', this.router, 'link', 'set', routerLink, 'up');
    await ip('-n', this.router, 'route', 'add', `${address}/32`, 'dev', routerLink);
    await ip(...at, 'addr', 'add', `${address}/32`, 'dev', link);
    await ip(...at, 'link', 'set', link, 'up');
    await ip(...at, 'route', 'add', `${this.subnet}.1/32`, 'dev', link);
    await ip(...at, 'route', 'add', `${this.subnet}.0/24`, 'via', `${this.subnet}.1`, 'dev', link);
  }

  private async addNamespace(namespace: string): Promise<void> {
    await ip('netns', 'add', namespace);
    this.made.namespaces.push(namespace);
  }
}

/** A /24 of 10.213.0.0/16 (as its first three octets) that no address or route of this namespace mentions. */
async function unusedSubnet(): Promise<string> {
  const used = `${await ip('-o', 'addr')}\n${await ip('-o', 'route', 'show', 'table', 'all')}`;
  for (let attempt = 0; attempt < 64; attempt++) {
    const subnet = `10.213.${randomBytes(1)[0]!}`;
    if (!used.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('NamespaceNetwork: no unused /24 found in 10.213.0.0/16');
}
