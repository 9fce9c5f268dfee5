/**
 * The HTTP endpoint `synod serve` opens on a member's `metrics` address: `/metrics`
 * (Prometheus text), `/healthz` (the process is up) and `/readyz` (the member has a live
 * leader and is within `readyLagSlotsMax` of it). GET and HEAD only; no request body is
 * read; every request and idle connection is cut short.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry, RegistryContentType } from 'prom-client';
import type { NodeMetrics } from '../runtime/index.js';
import type { TcpAddress } from '../transport/tcp/index.js';

/** Default of `--ready-lag-max`: a member further behind its leader's commit index than this many slots is not ready. */
export const readyLagSlotsMaxDefault = 1_000;

/** How long a request may take to arrive whole (headers included), in ms. */
const requestTimeoutMs = 5_000;
/** How long an idle kept-alive connection stays open, in ms. */
const keepAliveTimeoutMs = 5_000;
/** Connections open at once; more are refused by the kernel's backlog, then dropped. */
const connectionsMax = 64;
/** Bytes of request headers taken. */
const headerBytesMax = 8 * 1024;

/** Where a member is in its life, as the endpoint sees it. */
export type ServeState = 'starting' | 'running' | 'stopping';

/**
 * Why a member is not ready, or undefined if it is: it must be running, in the
 * configuration, know a live leader (one heard from within `electionTicks.min` ticks),
 * and have applied all but at most `lagSlotsMax` of the slots that leader announced
 * chosen.
 */
export function notReadyBecause(state: ServeState, metrics: NodeMetrics | undefined, lagSlotsMax: number): string | undefined {
  if (state !== 'running' || metrics === undefined) return state === 'stopping' ? 'stopping' : 'starting: the log is being replayed';
  if (metrics.role === 'removed') return 'this member is not in the configuration';
  if (!metrics.leaderLive) {
    return metrics.leader === undefined ? 'no leader' : `no leader: nothing heard from ${metrics.leader} for ${Math.round(metrics.leaderSilentMs)} ms`;
  }
  if (metrics.lag > lagSlotsMax)
    return `${metrics.lag} slots behind the leader's commit index ${metrics.leaderCommitIndex}, over --ready-lag-max ${lagSlotsMax}`;
  return undefined;
}

/** What the endpoint serves. */
export interface MetricsEndpointOptions {
  readonly address: TcpAddress;
  readonly registry: Registry<RegistryContentType>;
  /** Why the member is not ready now, or undefined. */
  readonly notReady: () => string | undefined;
}

/** A running endpoint. */
export interface MetricsEndpoint {
  /** Where it listens (the port chosen, if 0 was asked). */
  readonly address: TcpAddress;
  close(): Promise<void>;
}

function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse, options: MetricsEndpointOptions): Promise<void> {
  // Nothing here takes a body: one announced is refused unread, and the connection closed after the answer.
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (hasBody) return answer(res, 400, 'a request body is not accepted\n', { connection: 'close' });
  if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, `${req.method ?? '?'} is not allowed: GET or HEAD\n`, { allow: 'GET, HEAD' });
  const path = (req.url ?? '/').split('?', 1)[0];
  switch (path) {
    case '/metrics': {
      const text = await options.registry.metrics();
      return answer(res, 200, text, { 'content-type': options.registry.contentType });
    }
    case '/healthz':
      return answer(res, 200, 'ok\n');
    case '/readyz': {
      const why = options.notReady();
      return why === undefined ? answer(res, 200, 'ready\n') : answer(res, 503, `not ready: ${why}\n`);
    }
    default:
      return answer(res, 404, 'not found: try /metrics, /healthz or /readyz\n');
  }
}

/** Listens on `options.address` and serves `/metrics`, `/healthz` and `/readyz`. */
export async function startMetricsEndpoint(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const server: Server = createServer(
    { requestTimeout: requestTimeoutMs, headersTimeout: requestTimeoutMs, keepAliveTimeout: keepAliveTimeoutMs, maxHeaderSize: headerBytesMax },
    (req, res) => {
      handle(req, res, options).catch((error: unknown) => {
        if (!res.headersSent) answer(res, 500, `${error instanceof Error ? error.message : String(error)}\n`, { connection: 'close' });
        else res.destroy();
      });
    },
  );
  server.maxConnections = connectionsMax;
  server.maxRequestsPerSocket = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.address.host, port: options.address.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const address = bound !== null && typeof bound === 'object' ? { host: bound.address, port: bound.port } : options.address;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
