// The process's own HTTP endpoint: /metrics (Prometheus text), /healthz (alive), /readyz (ready
// to do its job, else 503 with the reason). node:http, no framework.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from './metrics.js';

export interface Check {
  ok: boolean;
  reason?: string;
}

export interface TelemetryServerOptions {
  /** 0 picks a free port (tests); the commands treat --metrics-port 0 as "no server". */
  port: number;
  host?: string;
  registry: Registry;
  live: () => Check;
  ready: () => Check | Promise<Check>;
}

export interface TelemetryServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startTelemetryServer(o: TelemetryServerOptions): Promise<TelemetryServer> {
  const server = createServer((req, res) => {
    handle(o, req, res).catch((err: unknown) => send(res, 500, `error: ${err instanceof Error ? err.message : String(err)}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = o.host ?? '127.0.0.1';
  return {
    port,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(o: TelemetryServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return void send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  switch (path) {
    case '/metrics':
      return void send(res, 200, await o.registry.metrics(), { 'content-type': o.registry.contentType });
    case '/healthz':
      return void sendCheck(res, o.live());
    case '/readyz':
      return void sendCheck(res, await o.ready());
    default:
      return void send(res, 404, 'not found\n');
  }
}

function sendCheck(res: ServerResponse, c: Check): void {
  send(res, c.ok ? 200 : 503, `${c.ok ? 'ok' : 'not ok'}${c.reason ? `: ${c.reason}` : ''}\n`);
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
