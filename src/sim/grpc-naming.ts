// gRPC naming (https://github.com/grpc/grpc/blob/master/doc/naming.md) as the kubelet's grpc-go
// reads a tracing endpoint, for grpc-js. grpc-js already reads host:port, dns:[//authority/]host:port
// and unix:path / unix:///path the same way; it has no resolver for unix-abstract, which the
// kubelet accepts. This adds one, so a simulated kubelet (client) and the embedded collector
// (server) can both use an abstract socket.
import * as grpc from '@grpc/grpc-js';

type GrpcUri = grpc.experimental.GrpcUri;

/**
 * The abstract socket name a unix-abstract target names. grpc-go dials "@" + the URL's path, so
 * unix-abstract:///name is the abstract name "/name" and unix-abstract:name is "name"; Node reaches
 * the abstract namespace through a path that starts with a NUL byte.
 */
export function abstractSocketPath(target: GrpcUri): string {
  return `\0${target.authority === '' ? '/' : ''}${target.path}`;
}

class UnixAbstractResolver implements grpc.experimental.Resolver {
  private reported = false;
  private readonly path: string;

  constructor(
    target: GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
  ) {
    if (target.authority !== undefined && target.authority !== '') {
      // As grpc-go's unix resolver: "invalid (non-empty) authority".
      throw new Error(`unix-abstract target ${grpc.experimental.uriToString(target)}: invalid (non-empty) authority "${target.authority}"`);
    }
    this.path = abstractSocketPath(target);
  }

  updateResolution(): void {
    if (this.reported) return;
    this.reported = true;
    // Never synchronously with the constructor or updateResolution (the Resolver contract).
    process.nextTick(this.listener, grpc.experimental.statusOrFromValue([{ addresses: [{ path: this.path }] }]), {}, null, '');
  }

  destroy(): void {
    this.reported = false;
  }

  static getDefaultAuthority(): string {
    return 'localhost';
  }
}

let registered = false;

/** Registers the unix-abstract scheme with grpc-js (once per process; clients and servers). */
export function registerUnixAbstract(): void {
  if (registered) return;
  grpc.experimental.registerResolver('unix-abstract', UnixAbstractResolver);
  registered = true;
}
